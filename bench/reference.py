"""REF, sipnotify beside a reference Asterisk (bench/reference.py), when `--asterisk PATH`
(`make bench ASTERISK=PATH`) names its binary.

The same measures run against both servers on the same generated configuration (Asterisk's
syntax: pjsip.conf, manager.conf, http.conf, pjsip_notify.conf, plus for Asterisk an
asterisk.conf whose writable directories are in the run's folder, modules.conf with
autoload and an empty logger.conf), interleaved: sipnotify, Asterisk, sipnotify, … for
`rounds` rounds. Each figure is the median of its rounds; the ratio is sipnotify's over
Asterisk's (above 1: sipnotify's figure is higher, better for a rate, worse for CPU, RSS or
a latency).

Usage: run by bench.py (`--asterisk PATH`, with `--only` choosing which of B1, B3 and B9 to
compare; `--rounds N`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from harness import Command, percentile, sipnotify_command

Measure = Callable[[Command], dict[str, float]]  # one run against the server `Command` starts
ASTERISK_CONF = """[directories]
astetcdir => {config}
astrundir => {data}/run
astlogdir => {data}/log
astspooldir => {data}/spool
astvarlibdir => {data}/lib
astdbdir => {data}/lib
[options]
"""
FILES = {"modules.conf": "[modules]\nautoload = yes\n", "logger.conf": "[logfiles]\n"}


def asterisk_command(binary: Path) -> Command:
    """Asterisk in the foreground on the generated folder (its files written first)."""

    def command(config: Path, data: Path) -> list[str]:
        for folder in ("run", "log", "spool", "lib"):
            (data / folder).mkdir(parents=True, exist_ok=True)
        (config / "asterisk.conf").write_text(ASTERISK_CONF.format(config=config, data=data))
        for name, text in FILES.items():
            (config / name).write_text(text)
        return [str(binary), "-f", "-C", str(config / "asterisk.conf")]

    return command


def compare(binary: Path, measures: Mapping[str, Measure], rounds: int) -> dict[str, object]:
    """Every measure against sipnotify and Asterisk, interleaved; medians and ratios."""
    theirs = asterisk_command(binary)
    found: dict[str, object] = {}
    for name, measure in measures.items():
        ours_runs, their_runs = [], []
        for _ in range(rounds):
            ours_runs.append(measure(sipnotify_command))
            their_runs.append(measure(theirs))
        found[f"REF_{name}"] = side_by_side(ours_runs, their_runs)
    return found


def side_by_side(ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> dict[str, float]:
    """For each figure both report: sipnotify's median, Asterisk's, and the ratio."""
    table: dict[str, float] = {}
    for key in ours[0]:
        mine = percentile([run[key] for run in ours], 0.5)
        other = percentile([run[key] for run in theirs if key in run], 0.5)
        table[f"{key}_sipnotify"] = mine
        table[f"{key}_asterisk"] = other
        table[f"{key}_ratio"] = mine / other if other else float("nan")
    return table


def printed(results: Mapping[str, object]) -> list[str]:
    """The comparison as a table: figure, sipnotify, Asterisk, ratio."""
    lines = [f"{'figure':42} {'sipnotify':>12} {'Asterisk':>12} {'ratio':>8}"]
    for name, values in results.items():
        if not (name.startswith("REF_") and isinstance(values, dict)):
            continue
        for key in [k[: -len("_ratio")] for k in values if k.endswith("_ratio")]:
            figure = f"{name[4:]} {key}"
            ours, theirs = values[f"{key}_sipnotify"], values[f"{key}_asterisk"]
            lines.append(f"{figure:42} {ours:12.3f} {theirs:12.3f} {values[f'{key}_ratio']:8.2f}")
    return lines

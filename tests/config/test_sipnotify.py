"""sipnotify.conf [general] and [fleet]: defaults, every option, and errors with file and line."""

from __future__ import annotations

import math
import os

import pytest

from sipnotify.config.load import DEFAULTS_DIR
from sipnotify.config.parser import ConfigError, parse_file, parse_text
from sipnotify.config.sipnotify import FleetSettings, load_settings


def fleet(text: str) -> FleetSettings:
    return load_settings(parse_text(text, name="sipnotify.conf"))[0].fleet


def test_an_empty_file_gives_the_defaults() -> None:
    assert fleet("") == FleetSettings()
    assert FleetSettings().confirm_above == 10
    assert FleetSettings().confirm_window == 300.0


def test_every_fleet_option_is_read() -> None:
    settings = fleet(
        "[fleet]\nrate = 2.5\nin_flight = 7\nper_address = 1\njitter = 0\n"
        "deadline = 90\nconfirm_above = 200\nconfirm_window = 12.5\n"
    )
    assert settings == FleetSettings(2.5, 7, 1, 0.0, 90.0, 200, 12.5)
    assert fleet("[fleet]\nrate = unlimited\n").rate == math.inf


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("rate = 0", "rate = 0 sends nothing (say 'unlimited' for no limit)"),
        ("rate = fast", "rate = 'fast' is not a number"),
        ("rate = nan", "rate = nan is out of range (0 or more)"),
        ("in_flight = 0", "in_flight = 0 is out of range (1 or more)"),
        ("per_address = 1.5", "per_address = '1.5' is not a number"),
        ("jitter = 1", "jitter = 1 is not a fraction below 1"),
        ("confirm_window = -5", "confirm_window = -5 is out of range (1 or more)"),
        ("deadline = inf", "deadline = inf is out of range (1 or more)"),
        ("confirm_above = 0", "confirm_above = 0 is out of range (1 or more)"),
    ],
)
def test_a_bad_value_names_file_and_line(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        fleet(f"[fleet]\n\n{line}\n")
    assert str(caught.value) == f"sipnotify.conf:3: {message}"


def test_unknown_sections_and_options_are_warnings() -> None:
    settings, warnings = load_settings(
        parse_text("[fleet]\nspeed = 3\n[other]\nx = 1\n", name="sipnotify.conf")
    )
    assert settings.fleet == FleetSettings()
    assert [str(w) for w in warnings] == [
        "sipnotify.conf:2: unknown option 'speed' in [fleet]",
        "sipnotify.conf:3: unknown section [other]",
    ]


def test_the_embedded_sipnotify_conf_states_the_defaults() -> None:
    settings, warnings = load_settings(parse_file(DEFAULTS_DIR / "sipnotify.conf"))
    assert settings.fleet == FleetSettings()
    assert warnings == []
    assert settings.workers == 1


def workers(text: str) -> int:
    return load_settings(parse_text(f"[general]\n{text}\n", name="sipnotify.conf"))[0].workers


def test_workers_is_a_count_or_auto() -> None:
    assert workers("workers = 3") == 3
    assert workers("workers = auto") == len(os.sched_getaffinity(0))
    assert workers("") == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "workers = 0 is out of range (1 to 64)"),
        ("65", "workers = 65 is out of range (1 to 64)"),
        ("two", "workers = 'two' is not a number"),
    ],
)
def test_a_bad_workers_value_names_file_and_line(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        workers(f"workers = {value}")
    assert str(caught.value) == f"sipnotify.conf:2: {message}"

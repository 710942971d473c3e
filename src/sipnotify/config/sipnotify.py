"""sipnotify.conf: sipnotify's own settings, in Asterisk's syntax (Asterisk has no such file).

Owns `[general]`: how many worker processes share the ports (`workers`); `[fleet]`: the
pacing a fleet job gets when its order names none, how long a job retries, how many phones a
reboot may reach without an explicit confirmation, and how long a rebooted phone has to
register again; and `[mwi]`: the caps on MWI subscriptions, in total and per
endpoint (a flood of SUBSCRIBEs cannot exhaust memory). Every value is checked here, with the
file and line in the error; an unknown option or section is a warning, as in the other files.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

from sipnotify.config import values
from sipnotify.config.parser import ConfigError, Diagnostic, Item, ParsedConfig


@dataclass(frozen=True, slots=True)
class FleetSettings:
    rate: float = 5.0  # phones per second; math.inf: `rate = unlimited`
    in_flight: int = 20  # NOTIFYs of one job awaiting an answer
    per_address: int = 4  # of those, to one remote address
    jitter: float = 0.2  # fraction each interval is stretched or shrunk by, at random
    deadline: float = 3600.0  # seconds after its start a job keeps retrying
    confirm_above: int = 10  # a reboot of more phones needs an explicit confirmation
    confirm_window: float = 300.0  # seconds a rebooted phone has to register again


@dataclass(frozen=True, slots=True)
class MwiSettings:
    max_subscriptions: int = 20_000
    max_subscriptions_per_endpoint: int = 10


@dataclass(frozen=True, slots=True)
class Settings:
    fleet: FleetSettings = FleetSettings()
    mwi: MwiSettings = MwiSettings()
    workers: int = 1  # processes sharing the SIP, AMI and HTTP ports (`auto`: one per core)


MAX_WORKERS = 64


def load_settings(parsed: ParsedConfig) -> tuple[Settings, list[Diagnostic]]:
    """sipnotify.conf's settings. Raises ConfigError for a value out of range."""
    fleet = FleetSettings()
    mwi = MwiSettings()
    workers = 1
    warnings: list[Diagnostic] = []
    for section in parsed.objects():
        name = section.name.lower()
        if name not in ("general", "fleet", "mwi"):
            warnings.append(Diagnostic(section.origin, f"unknown section [{section.name}]"))
            continue
        for item in section.items:
            known = True
            if name == "general":
                known = item.key.lower() == "workers"
                workers = _workers(item) if known else workers
            elif name == "fleet":
                fleet, known = _fleet_option(fleet, item)
            else:
                mwi, known = _mwi_option(mwi, item)
            if not known:
                warnings.append(Diagnostic(item.origin, f"unknown option '{item.key}' in [{name}]"))
    return Settings(fleet=fleet, mwi=mwi, workers=workers), warnings


def _workers(item: Item) -> int:
    """`workers = N` (1 to MAX_WORKERS) or `auto`: one per core this process may use."""
    if item.value.lower() == "auto":
        return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))
    return values.integer(item, low=1, high=MAX_WORKERS)


def _mwi_option(mwi: MwiSettings, item: Item) -> tuple[MwiSettings, bool]:
    key = item.key.lower()
    if key == "max_subscriptions":
        return replace(mwi, max_subscriptions=values.integer(item, low=1)), True
    if key == "max_subscriptions_per_endpoint":
        return replace(mwi, max_subscriptions_per_endpoint=values.integer(item, low=1)), True
    return mwi, False


def _fleet_option(fleet: FleetSettings, item: Item) -> tuple[FleetSettings, bool]:
    key = item.key.lower()
    if key == "rate":
        return replace(fleet, rate=_rate(item)), True
    if key == "in_flight":
        return replace(fleet, in_flight=values.integer(item, low=1)), True
    if key == "per_address":
        return replace(fleet, per_address=values.integer(item, low=1)), True
    if key == "confirm_above":
        return replace(fleet, confirm_above=values.integer(item, low=1)), True
    if key == "jitter":
        jitter = _number(item, low=0.0)
        if jitter >= 1:
            raise ConfigError(item.origin, f"jitter = {item.value} is not a fraction below 1")
        return replace(fleet, jitter=jitter), True
    if key == "deadline":
        return replace(fleet, deadline=_number(item, low=1.0)), True
    if key == "confirm_window":
        return replace(fleet, confirm_window=_number(item, low=1.0)), True
    return fleet, False


def _rate(item: Item) -> float:
    if item.value.lower() == "unlimited":
        return math.inf
    rate = _number(item, low=0.0)
    if rate == 0:
        raise ConfigError(item.origin, "rate = 0 sends nothing (say 'unlimited' for no limit)")
    return rate


def _number(item: Item, *, low: float) -> float:
    """A finite decimal number, at least `low`."""
    try:
        number = float(item.value)
    except ValueError:
        raise ConfigError(item.origin, f"{item.key} = '{item.value}' is not a number") from None
    if not math.isfinite(number) or number < low:
        raise ConfigError(
            item.origin, f"{item.key} = {item.value} is out of range ({low:g} or more)"
        )
    return number

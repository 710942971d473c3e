"""Reload without restart, on files in a temporary folder: which module names stand for which
part, what is handed to the running parts, and that a file with an error changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipnotify.config.load import Config, Part, load_config
from sipnotify.config.reload import Reloader, ReloadResult, Status, canonical, is_loaded

PJSIP = "[alice]\ntype=aor\ncontact=sip:alice@192.0.2.1\n[alice]\ntype=endpoint\naors=alice\n"
NOTIFY = "[clear-mwi]\nEvent=message-summary\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "pjsip.conf").write_text(PJSIP)
    (tmp_path / "pjsip_notify.conf").write_text(NOTIFY)
    (tmp_path / "manager.conf").write_text("[general]\nenabled=yes\n")
    return tmp_path


class Applied:
    def __init__(self) -> None:
        self.calls: list[tuple[Config, frozenset[Part]]] = []

    def __call__(self, config: Config, parts: frozenset[Part]) -> None:
        self.calls.append((config, parts))


def test_a_module_reload_reads_its_file_and_hands_it_on(folder: Path) -> None:
    applied = Applied()
    reloader = Reloader(load_config(folder), applied)
    (folder / "pjsip_notify.conf").write_text(NOTIFY + "[reboot]\nEvent=check-sync\n")
    assert reloader.reload("res_pjsip_notify") == ReloadResult(Status.SUCCESS)
    ((config, parts),) = applied.calls
    assert parts == frozenset({Part.NOTIFY})
    assert config.notify.find("reboot") is not None
    assert reloader.config is config


def test_everything_reloads_for_none(folder: Path) -> None:
    applied = Applied()
    Reloader(load_config(folder), applied).reload(None)
    assert applied.calls[0][1] == frozenset(Part)


def test_a_file_with_an_error_keeps_the_running_configuration(folder: Path) -> None:
    applied = Applied()
    reloader = Reloader(load_config(folder), applied)
    running = reloader.config
    (folder / "pjsip.conf").write_text(PJSIP + "[bob]\ntype=aor\nmax_contacts=lots\n")
    result = reloader.reload("res_pjsip.so")
    assert result.status is Status.ERROR
    assert "pjsip.conf:9: max_contacts = 'lots' is not a number" in result.error
    assert applied.calls == []
    assert reloader.config is running


@pytest.mark.parametrize(
    ("name", "status"),
    [("chan_pjsip.so", Status.NOT_SUPPORTED), ("res_nothing.so", Status.NOT_FOUND)],
)
def test_modules_that_cannot_reload(folder: Path, name: str, status: Status) -> None:
    assert Reloader(load_config(folder), Applied()).reload(name) == ReloadResult(status)


def test_module_names_as_asterisk_writes_them() -> None:
    assert canonical(" Res_PJSIP_Notify ") == "res_pjsip_notify.so"
    assert canonical("manager") == "manager"
    assert is_loaded("app_dial")
    assert not is_loaded("chan_sip")

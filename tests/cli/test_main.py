"""The command line in-process: check-config's verdicts, and the argument errors every
command gives before it reaches for the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipnotify.cli.main import main


def write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / name.replace("_conf", ".conf")).write_text(text)
    return folder


def test_check_config_counts_what_it_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(
        tmp_path,
        manager_conf="[general]\nenabled=yes\n[admin]\nsecret=s\nread=all\nwrite=all\n",
        pjsip_conf="[udp]\ntype=transport\nbind=127.0.0.1\n[a]\ntype=aor\n[a]\ntype=endpoint\naors=a\n",
        pjsip_notify_conf="[clear-mwi]\nEvent=message-summary\n",
    )
    assert main(["check-config", "--config-dir", str(folder), "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out
    assert "(1 AMI users, 1 notify types, 1 transports, 1 endpoints, 1 AORs, 13 phone vendors)" in (
        out
    )


def test_check_config_names_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path, pjsip_conf="[a]\ntype=aor\nmax_contacts=many\n")
    assert main(["check-config", "--config-dir", str(folder), "--data-dir", str(tmp_path)]) == 1
    assert "pjsip.conf:3: max_contacts = 'many' is not a number" in capsys.readouterr().err


def test_check_config_warns_when_nothing_can_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path, manager_conf="[general]\n")
    assert main(["check-config", "--config-dir", str(folder), "--data-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "AMI is disabled" in err
    assert "pjsip.conf has no transport" in err


def test_the_embedded_defaults_note_the_secret_to_come(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--data-dir", str(tmp_path / "data")]) == 0
    assert "is generated at the first start" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["notify", "--option", "x"], "give at least one --endpoint, --uri or --channel"),
        (["notify", "--var", "novalue", "--endpoint", "a"], "is not NAME=VALUE"),
        (["notify", "--option", "x", "--endpoint", "a"], "no AMI secret"),
        (["show", "endpoints"], "no AMI secret"),
    ],
)
def test_argument_errors_before_any_connection(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("SIPNOTIFY_SECRET", raising=False)
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_sip_port_applies_to_the_embedded_defaults_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--config-dir", str(tmp_path), "--sip-port", "5070"])
    assert code == 2
    assert "--sip-port and --http-port apply to the embedded defaults only" in (
        capsys.readouterr().err
    )


def test_check_config_names_a_broken_vendor_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path, vendors_conf="[lab]\ntype=vendor\nuser_agent=(\n")
    assert main(["check-config", "--config-dir", str(folder), "--data-dir", str(tmp_path)]) == 1
    assert "vendors.conf:3: user_agent '(' is not a regular expression" in capsys.readouterr().err

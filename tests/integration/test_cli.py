"""The command line: embedded defaults with a generated secret, check-config, start-up errors."""

from __future__ import annotations

import asyncio
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from panoramisk import Manager

from sipnotify.config.datadir import read_secret
from tests.integration.conftest import RawAmi, StartService, wait_for
from tests.integration.ports import free_port


def sipnotify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipnotify", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


async def _login(port: int, secret: str) -> Any:
    manager = Manager(host="127.0.0.1", port=port, username="admin", secret=secret, ping_delay=60)
    await manager.connect()
    try:
        return await asyncio.wait_for(manager.send_action({"Action": "Ping"}), 5)
    finally:
        manager.close()


def test_defaults_generate_a_secret_once_print_it_and_panoramisk_logs_in(
    start_service: StartService,
) -> None:
    service = start_service(None)
    told = r"username 'admin', secret '([^']+)' \(kept in (.+)\)"
    # start_service returns once AMI listens; the secret is told just after (a line later)
    wait_for(lambda: re.search(told, service.log()) is not None, 10, "the secret to be told")
    printed = re.search(told, service.log())
    assert printed is not None, service.log()
    secret, kept_in = printed.group(1), Path(printed.group(2))
    assert kept_in == service.data_dir / "manager-secret.conf"
    assert read_secret(kept_in) == secret
    assert len(secret) >= 20
    assert stat.S_IMODE(kept_in.stat().st_mode) == 0o600
    assert stat.S_IMODE(service.data_dir.stat().st_mode) == 0o700
    assert "AMI listening on 127.0.0.1:" in service.log()
    pong = asyncio.run(_login(service.port, secret))
    assert pong.Ping == "Pong"
    with RawAmi(service.port) as ami:  # no well-known password works
        ami.banner()
        ami.send(b"Action: Login\r\nUsername: admin\r\nSecret: \r\n\r\n")
        assert ami.message().endswith(b"Authentication failed\r\n\r\n")
    assert service.stop() == 0


def test_the_secret_survives_a_restart(start_service: StartService, tmp_path: Path) -> None:
    data = tmp_path / "shared-data"
    first = start_service(None, extra_args=("--data-dir", str(data)))
    # the login is announced once start-up is over, a little after AMI listens
    wait_for(lambda: "secret '" in first.log(), 10, "the announced login")
    first.stop()
    second = start_service(None, extra_args=("--data-dir", str(data)))
    wait_for(lambda: "secret '" in second.log(), 10, "the second announced login")
    assert read_secret(data / "manager-secret.conf") is not None
    secrets = [re.findall(r"secret '([^']+)'", s.log()) for s in (first, second)]
    assert secrets[0] == secrets[1]


def test_check_config_accepts_a_good_folder(tmp_path: Path) -> None:
    (tmp_path / "manager.conf").write_text("[general]\nenabled=yes\n[u]\nsecret=x\nread=all\n")
    (tmp_path / "pjsip_notify.conf").write_text("[reboot]\nEvent=>check-sync\n")
    done = sipnotify("check-config", "--config-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"configuration OK: {tmp_path} (1 AMI users, 1 notify types")


def test_check_config_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "manager.conf").write_text("[general]\nenabled=yes\nport = 99999\n")
    done = sipnotify("check-config", "--config-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: {tmp_path}/manager.conf:3: port = 99999 is out of range (1024 to 65535)"
    )


def test_check_config_prints_warnings_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "pjsip.conf").write_text("[t]\ntype=transport\nno equals here\n")
    done = sipnotify("check-config", "--config-dir", str(tmp_path))
    assert done.returncode == 0
    assert f"warning: {tmp_path}/pjsip.conf:3: no '=' (equal sign) in line" in done.stderr


def test_check_config_of_the_embedded_defaults() -> None:
    done = sipnotify("check-config")
    assert done.returncode == 0, done.stderr
    assert "14 notify types" in done.stdout


def test_serve_stops_on_a_config_error_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "pjsip_notify.conf").write_text("[a]\nEvent=>x\n[b](missing)\n")
    done = sipnotify("serve", "--config-dir", str(tmp_path), "--data-dir", str(tmp_path))
    assert done.returncode == 1
    assert (
        f"configuration error: {tmp_path}/pjsip_notify.conf:3: inheritance requested, "
        "but section 'missing' does not exist"
    ) in done.stderr


def test_serve_reports_a_port_in_use(start_service: StartService, tmp_path: Path) -> None:
    busy = start_service()
    config = tmp_path / "again"
    config.mkdir()
    (config / "manager.conf").write_text(
        f"[general]\nenabled=yes\nbindaddr=127.0.0.1\nport={busy.port}\n"
    )
    done = sipnotify("serve", "--config-dir", str(config), "--data-dir", str(tmp_path))
    assert done.returncode == 1
    assert f"cannot listen for AMI on 127.0.0.1:{busy.port}: Address already in use" in done.stderr


def test_serve_reports_a_sip_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        done = sipnotify("serve", "--data-dir", str(tmp_path), "--ami-port", str(free_port()),
                         "--sip-port", str(port))  # fmt: skip
    assert done.returncode == 1
    assert (
        f"cannot start SIP transports: transport-udp (udp 127.0.0.1:{port}): Address already in use"
    ) in done.stderr


def test_check_config_before_the_first_start_notes_the_secret_to_come(tmp_path: Path) -> None:
    done = sipnotify("check-config", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "has no secret" not in done.stderr
    assert f"is generated at the first start into {tmp_path}/manager-secret.conf" in done.stdout


def test_check_config_says_when_ami_is_off_and_nothing_listens_for_sip(tmp_path: Path) -> None:
    (tmp_path / "manager.conf").write_text("[general]\nenabled=no\n")
    done = sipnotify("check-config", "--config-dir", str(tmp_path))
    assert done.returncode == 0
    assert "warning: AMI is disabled" in done.stderr
    assert "warning: pjsip.conf has no transport" in done.stderr


def test_a_data_dir_that_cannot_be_made_is_an_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = sipnotify("serve", "--data-dir", str(blocker / "data"), "--ami-port", str(free_port()))
    assert done.returncode == 1
    assert f"{blocker}/data/manager-secret.conf': Not a directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_over_long_include_name_is_an_error_line(tmp_path: Path) -> None:
    (tmp_path / "pjsip.conf").write_text("#include " + "x" * 5000 + "\n")
    done = sipnotify("check-config", "--config-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {tmp_path}/pjsip.conf:1: cannot #include 'xxx")
    assert "Traceback" not in done.stderr


def test_missing_config_dir_is_an_error(tmp_path: Path) -> None:
    done = sipnotify("check-config", "--config-dir", str(tmp_path / "nope"))
    assert done.returncode == 1
    assert "configuration directory not found" in done.stderr


def test_a_contact_store_that_cannot_be_opened_is_an_error_line(tmp_path: Path) -> None:
    (tmp_path / "contacts.sqlite3").mkdir(parents=True)  # a folder where the file should be
    done = sipnotify("serve", "--data-dir", str(tmp_path), "--ami-port", str(free_port()),
                     "--sip-port", "0")  # fmt: skip
    assert done.returncode == 1
    assert f"cannot open the contact store in {tmp_path}: " in done.stderr
    assert "Traceback" not in done.stderr


def test_no_secret_names_the_file_it_looked_in(tmp_path: Path) -> None:
    done = sipnotify("show", "contacts", "--data-dir", str(tmp_path), "--port", str(free_port()))
    assert done.returncode == 2
    assert f"(no secret in {tmp_path}/manager-secret.conf)" in done.stderr

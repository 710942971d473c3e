"""`workers = 2`: two processes share the SIP, AMI and HTTP ports on one real PostgreSQL.

Each phone's datagrams reach the worker the steering program (and `steering.owner`) names;
a NOTIFY asked of either worker reaches phones of both, and each phone's answer gets back to
the worker that sent it; a worker killed with -9 is started again, its registrations kept,
and a fleet job it was running is finished without sending twice."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psycopg

from sipnotify.workers.steering import owner
from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf, wait_for
from tests.integration.ports import free_port
from tests.integration.sipp import Sipp
from tests.integration.test_cluster import contacts, files
from tests.integration.test_fleet import job_when_answered, start_slow_job
from tests.integration.test_fleet import pjsip as fleet_pjsip
from tests.integration.test_pjsip_notify import result
from tests.integration.test_registrar import notify, register
from tests.storage.postgres import Server as Postgres

WORKERS = "[general]\nworkers = 2\n"
HOST = "host"


def start(start_service: StartService, dsn: str, pjsip: str | None = None) -> Service:
    """Two workers; `pjsip` replaces the registrar tests' pjsip.conf (bob takes 4 contacts)."""
    found = files(dsn, HOST)  # contacts and mailboxes in PostgreSQL; jobs too, below
    found["extconfig.conf"] += "sipnotify_jobs => pgsql,general\n"
    found["pjsip.conf"] = pjsip or found["pjsip.conf"].replace("max_contacts=2", "max_contacts=4")
    service = start_service(admin_conf(), files={**found, "sipnotify.conf": WORKERS})
    wait_for(lambda: all(f"[{HOST}-{n}] AMI listening on" in service.log() for n in (1, 2)),
             30, "both workers")  # fmt: skip
    return service


def ports_of_each_worker(per_worker: int) -> list[int]:
    """Free UDP ports for phones, `per_worker` steered to each of the two workers."""
    chosen: dict[int, list[int]] = {0: [], 1: []}
    for attempt in range(200):
        port = free_port() + attempt % 2  # bind(0) hands out even ports only
        if not free(port):
            continue
        group = chosen[owner("127.0.0.1", port, 2)]
        if len(group) < per_worker and port not in chosen[0] + chosen[1]:
            group.append(port)
        if all(len(group) == per_worker for group in chosen.values()):
            return chosen[0] + chosen[1]
    raise AssertionError("no free ports for both workers")


def free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pids(service: Service) -> dict[str, int]:
    """Each worker's latest process id, from the supervisor's log."""
    found = re.findall(r"worker (\S+) started \(pid (\d+)\)", service.log())
    return {name: int(pid) for name, pid in found}


def phones(uas: Uas, service: Service, per_worker: int) -> tuple[list[int], list[Sipp]]:
    """Phones registered as bob (one contact each), `per_worker` steered to each worker,
    held to answer NOTIFYs: their ports, and them."""
    ports = ports_of_each_worker(per_worker)
    held = [register(uas, service, port=port, hold_ms=15_000) for port in ports]
    wait_for(lambda: len(contacts(service)) == len(ports), 10, "every registration")
    return ports, held


def every_phone_answers(service: Service, count: int) -> None:
    """A PJSIPNotify to bob, asked of the worker the AMI session reaches, gets `count`
    successes."""
    events = notify(service, "bob")
    assert sorted(result(e, "Result") for e in events[:-1]) == ["Success"] * count, events


def test_each_phone_stays_on_its_worker_and_notifies_reach_every_phone(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    service = start(start_service, postgres.new_database())
    ports, held = phones(uas, service, per_worker=2)
    expected = {(f"sip:bob@127.0.0.1:{p}", f"{HOST}-{owner('127.0.0.1', p, 2) + 1}") for p in ports}
    assert set(contacts(service)) == expected  # registered by the worker steering predicts
    for _ in range(3):  # AMI sessions land on either worker: each sends to all four phones
        every_phone_answers(service, 4)
    for phone in held:
        phone.stop()


def test_a_reload_asked_of_one_worker_reloads_both(
    start_service: StartService, postgres: Postgres
) -> None:
    service = start(start_service, postgres.new_database())
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(b"Action: Reload\r\nActionID: r\r\n\r\n")
        assert ami.message().startswith(b"Response: Success\r\nActionID: r\r\n")
    wait_for(lambda: all(f"[{HOST}-{n}] reloaded " in service.log() for n in (1, 2)), 10,
             "both workers to reload")  # fmt: skip
    by_signal = re.findall(rf"\[{HOST}-(\d)\] SIGHUP: reloading", service.log())
    assert len(by_signal) == 1  # the worker the session reached at once, the other by SIGHUP


def test_a_sighup_while_a_worker_starts_reloads_it_once_it_serves(
    start_service: StartService, postgres: Postgres
) -> None:
    service = start(start_service, postgres.new_database())
    before = pids(service)
    os.kill(before[f"{HOST}-1"], signal.SIGKILL)
    wait_for(lambda: pids(service)[f"{HOST}-1"] != before[f"{HOST}-1"], 10, "a new worker 1")
    service.process.send_signal(signal.SIGHUP)  # worker 1 is still starting
    wait_for(lambda: all(f"[{HOST}-{n}] reloaded " in service.log() for n in (1, 2)), 20,
             "both workers to reload")  # fmt: skip
    assert service.log().count(f"[{HOST}-1] AMI listening on") == 2
    assert service.log().count(" ended (exit ") == 1, service.log()  # the -9 alone


def test_a_worker_killed_with_9_is_started_again_and_keeps_its_registrations(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    service = start(start_service, postgres.new_database())
    _, held = phones(uas, service, per_worker=1)
    before = pids(service)
    os.kill(before[f"{HOST}-1"], signal.SIGKILL)
    wait_for(lambda: pids(service)[f"{HOST}-1"] != before[f"{HOST}-1"], 10, "a new worker 1")
    wait_for(lambda: service.log().count(f"[{HOST}-1] AMI listening on") == 2, 20, "it to serve")
    assert "ended (exit -9)" in service.log()
    assert len(contacts(service)) == 2
    every_phone_answers(service, 2)
    for phone in held:
        phone.stop()
    assert service.stop() == 0
    assert not any(
        re.search(r"worker .* did not stop", line) for line in service.log().splitlines()
    )


def test_a_job_of_a_worker_killed_mid_way_is_finished_without_sending_twice(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    phones = [uas("uas_notify.xml", timeout=60) for _ in range(4)]
    service = start(start_service, dsn, fleet_pjsip([p.port for p in phones]))
    job_id = start_slow_job(service.port)
    with psycopg.connect(dsn) as db:
        row = db.execute("SELECT owner FROM sipnotify_jobs WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    os.kill(pids(service)[row[0]], signal.SIGKILL)  # the worker running it
    with RawAmi(service.port) as ami:  # either worker: the job is finished and listed
        ami.login()
        shown = job_when_answered(ami, job_id, 4)
        assert shown.count(b"\r\nState: answered\r\n") == 4, shown
    for phone in phones:
        assert phone.finish() == 0, phone.output
        assert len(phone.received()) == 1  # one NOTIFY each, across the kill


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "manager.conf").write_text(admin_conf().replace("{port}", str(free_port())))
    (config / "sipnotify.conf").write_text(WORKERS)
    done = subprocess.run(
        [sys.executable, "-m", "sipnotify", "serve", "--config-dir", str(config),
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "workers = 2 needs ps_contacts, sipnotify_mailboxes, sipnotify_jobs in PostgreSQL" \
        in done.stderr  # fmt: skip

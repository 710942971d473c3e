"""Several sipnotify nodes on one real PostgreSQL database, as Asterisk realtime lays it out:
a registration through one node is seen and reached from the other, in Asterisk's rows; a node
killed with -9 loses nothing acknowledged; a node name cannot be taken twice; a database that
is missing, not upgraded or restarting gets a clear answer."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf, wait_for
from tests.integration.ports import free_port
from tests.integration.sipp import Sipp, header
from tests.integration.test_fleet import job_when_answered, start_slow_job
from tests.integration.test_fleet import pjsip as fleet_pjsip
from tests.integration.test_mwi_subscriptions import subscriber, update, wait_subscribed
from tests.integration.test_pjsip_notify import result
from tests.integration.test_registrar import PJSIP, notify, register
from tests.storage.postgres import Server as Postgres

SORCERY = "[res_pjsip]\ncontact = realtime,ps_contacts\n"
EXTCONFIG = "[settings]\nps_contacts => pgsql,general\nsipnotify_mailboxes => pgsql,general\n"


def files(dsn: str, systemname: str) -> dict[str, str]:
    """A node's configuration: PJSIP's objects in pjsip.conf, contacts in PostgreSQL."""
    found = dict(part.split("=", 1) for part in dsn.split())
    pgsql = "".join(f"{key} = {value}\n" for key, value in (
        ("dbhost", found["host"]), ("dbport", found["port"]), ("dbname", found["dbname"]),
        ("dbuser", found["user"]), ("dbpass", "not-checked")))  # fmt: skip
    return {"pjsip.conf": PJSIP, "sorcery.conf": SORCERY, "extconfig.conf": EXTCONFIG,
            "res_pgsql.conf": f"[general]\n{pgsql}",
            "asterisk.conf": f"[options]\nsystemname = {systemname}\n"}  # fmt: skip


def node(start_service: StartService, dsn: str, systemname: str) -> Service:
    return start_service(admin_conf(), files=files(dsn, systemname))


def contacts(service: Service) -> list[tuple[str, str]]:
    """(Uri, RegServer) of each contact PJSIPShowContacts lists."""
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(b"Action: PJSIPShowContacts\r\n\r\n")
        if not ami.message().startswith(b"Response: Success"):
            return []
        found = []
        while not (item := ami.message()).startswith(b"Event: ContactListComplete"):
            uri = re.search(rb"\r\nUri: ([^\r]*)\r\n", item)
            server = re.search(rb"\r\nRegServer: ([^\r]*)\r\n", item)
            assert uri is not None
            assert server is not None
            found.append((uri.group(1).decode(), server.group(1).decode()))
        return found


def test_a_registration_through_one_node_is_reached_from_the_other(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    a, b = node(start_service, dsn, "node-a"), node(start_service, dsn, "node-b")
    with RawAmi(b.port) as watcher:
        watcher.login(events="system")
        reg = register(uas, a)
        assert reg.finish() == 0, reg.output
        uri = f"sip:bob@127.0.0.1:{reg.port}"
        wait_for(lambda: contacts(b) == [(uri, "node-a")], 5, "node B to learn of the contact")
        told = watcher.message()  # node B's sessions hear of it as of their own
        while not told.startswith(b"Event: ContactStatus\r\n"):
            told = watcher.message()
        assert b"ContactStatus: NonQualified\r\n" in told  # a new contact, as in Asterisk
        assert f"URI: {uri}\r\n".encode() in told
    assert contacts(a) == [(uri, "node-a")]
    phone = uas("uas_notify.xml", port=reg.port)
    (event, complete) = notify(b, "bob")  # asked of node B, sent by node A, told to node B
    assert (result(event, "URI"), result(event, "Result")) == (uri, "Success")
    assert b"Succeeded: 1\r\n" in complete
    assert phone.finish() == 0
    with psycopg.connect(dsn) as db:  # Asterisk's row, as Asterisk would write it
        row = db.execute("SELECT id, uri, reg_server, endpoint FROM ps_contacts").fetchone()
    assert row is not None
    assert row[0].startswith("bob^3B@")
    assert row[1:] == (uri, "node-a", "bob")
    gone = register(uas, b, port=reg.port, expires="0")  # unregistered through the other node
    gone.finish()  # (its scenario looks for a Contact in the 200, which Expires: 0 has none)
    assert gone.received()[-1].startswith(b"SIP/2.0 200 OK\r\n")
    wait_for(lambda: contacts(a) == [], 5, "node A to forget the contact")


def test_a_tcp_contact_of_one_node_is_reached_over_its_connection_from_the_other(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    a, b = node(start_service, dsn, "node-a"), node(start_service, dsn, "node-b")
    uri = "sip:bob@127.0.0.1:9;transport=tcp"  # only node A's connection reaches it
    reg = register(uas, a, protocol="tcp", contact=uri, hold_ms=6000)
    wait_for(lambda: contacts(b) == [(uri, "node-a")], 10, "node B to learn of it")
    (event, complete) = notify(b, "bob")  # the session on node B hears the phone's answer
    assert (result(event, "URI"), result(event, "StatusCode")) == (uri, "200"), event
    assert b"Succeeded: 1\r\n" in complete
    assert reg.finish() == 0, reg.output
    notifies = [m for m in reg.received() if m.startswith(b"NOTIFY ")]
    assert len(notifies) == 1  # once, over the connection it registered on
    assert f"\r\nVia: SIP/2.0/TCP 127.0.0.1:{a.sip_port('tcp')};".encode() in notifies[0]


def test_a_node_killed_with_9_loses_no_registration(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    a, b = node(start_service, dsn, "node-a"), node(start_service, dsn, "node-b")
    reg = register(uas, a)
    assert reg.finish() == 0, reg.output
    a.process.kill()
    a.process.wait(timeout=10)
    uri = f"sip:bob@127.0.0.1:{reg.port}"
    assert contacts(b) == [(uri, "node-a")]
    again = node(start_service, dsn, "node-a")  # the name is free again once its holder died
    assert contacts(again) == [(uri, "node-a")]


def serve(config: Path, data: Path) -> subprocess.CompletedProcess[str]:
    """`sipnotify serve` expected to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "sipnotify", "serve", "--config-dir", str(config),
         "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def write(folder: Path, found: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in {
        **found,
        "manager.conf": admin_conf().replace("{port}", str(free_port())),
    }.items():
        (folder / name).write_text(text)
    return folder


def test_a_name_is_held_by_one_running_node(
    start_service: StartService, postgres: Postgres, tmp_path: Path
) -> None:
    dsn = postgres.new_database()
    node(start_service, dsn, "node-a")
    second = serve(write(tmp_path / "twin", files(dsn, "node-a")), tmp_path / "twin-data")
    assert second.returncode == 1
    assert "another running node already has systemname 'node-a'" in second.stderr


def test_an_unusable_database_is_a_clear_start_up_error(postgres: Postgres, tmp_path: Path) -> None:
    fresh = postgres.new_database(upgraded=False)
    refused = serve(write(tmp_path / "fresh", files(fresh, "n1")), tmp_path / "d1")
    assert refused.returncode == 1
    assert "schema is at version 0" in refused.stderr
    assert "run `sipnotify db upgrade`" in refused.stderr
    upgraded = subprocess.run(
        [sys.executable, "-m", "sipnotify", "db", "upgrade",
         "--config-dir", str(tmp_path / "fresh")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    done = r"PostgreSQL sipnotify@127\.0\.0\.1:\d+/t_\w+: schema at version \d+ \(was 0\)"
    assert re.search(done, upgraded.stdout)
    away = files(fresh, "n2")
    elsewhere = f"dbport = {postgres.port + 1}"
    away["res_pgsql.conf"] = away["res_pgsql.conf"].replace(f"dbport = {postgres.port}", elsewhere)
    down = serve(write(tmp_path / "away", away), tmp_path / "d2")
    assert down.returncode == 1
    assert (
        f"cannot join the cluster: PostgreSQL sipnotify@127.0.0.1:{postgres.port + 1}/"
        in down.stderr
    )
    assert "not-checked" not in down.stderr  # the password is never shown


def test_a_database_restart_answers_503_then_serves_again(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    a = node(start_service, dsn, "node-a")
    postgres.stop()
    try:
        refused = register(uas, a)
        refused.finish()
        answers = [m.split(b"\r\n")[0] for m in refused.received()]
        assert answers[-1] == b"SIP/2.0 503 Service Unavailable", answers
    finally:
        postgres.start()
    reg = register(uas, a)
    assert reg.finish() == 0, reg.output
    assert contacts(a) == [(f"sip:bob@127.0.0.1:{reg.port}", "node-a")]


REALTIME_SORCERY = """[res_pjsip]
contact = realtime,ps_contacts
endpoint = realtime,ps_endpoints
aor = realtime,ps_aors
auth = realtime,ps_auths
"""
REALTIME_EXTCONFIG = """[settings]
ps_contacts => pgsql,general
ps_endpoints => pgsql,general
ps_aors => pgsql,general
ps_auths => pgsql,general
"""
TRANSPORTS = PJSIP.split("[bob]")[0]


def test_endpoints_aors_and_auths_read_from_tables_and_reloaded(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("INSERT INTO ps_endpoints (id, aors, auth, context) "
                   "VALUES ('bob', 'bob', 'bob', 'default')")  # fmt: skip
        db.execute("INSERT INTO ps_aors (id, max_contacts) VALUES ('bob', 2)")
        db.execute("INSERT INTO ps_auths (id, auth_type, username, password) "
                   "VALUES ('bob', 'userpass', 'bob', 'secret')")  # fmt: skip
    found = {**files(dsn, "node-a"), "pjsip.conf": TRANSPORTS,
             "sorcery.conf": REALTIME_SORCERY, "extconfig.conf": REALTIME_EXTCONFIG}  # fmt: skip
    service = start_service(admin_conf(), files=found)
    reg = register(uas, service)  # challenged and checked against ps_auths
    assert reg.finish() == 0, reg.output
    phone = uas("uas_notify.xml", port=reg.port)
    (event, _) = notify(service, "bob")
    assert result(event, "Result") == "Success"
    assert phone.finish() == 0
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("INSERT INTO ps_endpoints (id, aors) VALUES ('carol', 'carol')")
        db.execute("INSERT INTO ps_aors (id, contact) VALUES ('carol', 'sip:carol@127.0.0.1:9')")
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(b"Action: PJSIPShowEndpoint\r\nEndpoint: carol\r\n\r\n")
        assert ami.message().startswith(b"Response: Error\r\n")  # cached until a reload
        ami.send(b"Action: Reload\r\nModule: res_pjsip.so\r\n\r\n")
        assert ami.message().startswith(b"Response: Success\r\n")
        ami.send(b"Action: PJSIPShowEndpoint\r\nEndpoint: carol\r\n\r\n")
        assert ami.message().startswith(b"Response: Success\r\n")


MWI_PJSIP = (
    "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
    "[bob]\ntype=aor\nmax_contacts=2\nmailboxes=1000@default\n"
    "[bob]\ntype=endpoint\naors=bob\n"
)


def test_a_mailbox_update_on_one_node_reaches_a_subscriber_of_the_other(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    a, b = (start_service(admin_conf(), files={**files(dsn, name), "pjsip.conf": MWI_PJSIP})
            for name in ("node-a", "node-b"))  # fmt: skip
    phone = subscriber(uas, b, "uac_subscribe_mwi_481.xml", 600)  # answers the 2nd NOTIFY 481
    with RawAmi(b.port) as on_b, RawAmi(a.port) as on_a:
        on_b.login()
        on_a.login()
        wait_subscribed(on_b, 1)
        update(on_a, 3, 1)  # on node A: node B tells its subscriber
        assert phone.finish() == 0, phone.output
        wait_subscribed(on_b, 0)
        on_b.send(b"Action: MWIGet\r\nActionID: g\r\nMailbox: 1000@default\r\n\r\n")
        listed = on_b.read_until(b"Event: MWIGetComplete\r\n")
    notifies = [m for m in phone.received() if m.startswith(b"NOTIFY ")]
    assert b"Voice-Message: 3/1" in notifies[-1]
    assert b"Mailbox: 1000@default\r\nOldMessages: 1\r\nNewMessages: 3\r\n" in listed


def test_a_subscription_of_a_node_killed_with_9_is_taken_over_by_another(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    table = "ps_subscription_persistence"
    pubsub = f"[res_pjsip_pubsub]\nsubscription_persistence = realtime,{table}\n"
    kept = {
        "pjsip.conf": MWI_PJSIP,
        "sorcery.conf": SORCERY + pubsub,
        "extconfig.conf": f"{EXTCONFIG}{table} => pgsql,general\n",
    }
    a, b = (start_service(admin_conf(), files={**files(dsn, name), **kept})
            for name in ("node-a", "node-b"))  # fmt: skip
    phone = subscriber(uas, a, "uac_subscribe_mwi_listen.xml", 600)
    with RawAmi(a.port) as on_a:
        on_a.login()
        wait_subscribed(on_a, 1)
    with psycopg.connect(dsn) as db:  # kept as Asterisk keeps it
        row = db.execute("SELECT endpoint, transport_key FROM ps_subscription_persistence")
        assert row.fetchall() == [("bob", "udp")]
    a.process.kill()
    a.process.wait(timeout=10)
    with RawAmi(b.port) as on_b:
        on_b.login()
        wait_for(lambda: "took over 1 MWI subscriptions of node node-a" in b.log(), 15,
                 "node B to take the subscription over")  # fmt: skip
        wait_subscribed(on_b, 1)
        update(on_b, 3, 1)
        assert phone.finish() == 0, phone.output
    first, restored, changed = [m for m in phone.received() if m.startswith(b"NOTIFY ")]
    assert f"\r\nVia: SIP/2.0/UDP 127.0.0.1:{b.sip_port()};".encode() in restored
    assert b"Voice-Message: 3/1" in changed
    assert b"Call-ID: " + header(first, "Call-ID")[0].encode() in changed  # the same dialog


def job_nodes(start_service: StartService, uas: Uas,
              postgres: Postgres) -> tuple[Service, Service, list[Sipp]]:  # fmt: skip
    """Two nodes sharing contacts and jobs, and four SIPp phones each taking one NOTIFY."""
    dsn = postgres.new_database()
    phones = [uas("uas_notify.xml", timeout=60) for _ in range(4)]
    shared = {"extconfig.conf": EXTCONFIG + "sipnotify_jobs => pgsql,general\n",
              "pjsip.conf": fleet_pjsip([p.port for p in phones])}  # fmt: skip
    a, b = (start_service(admin_conf(), files={**files(dsn, name), **shared})
            for name in ("node-a", "node-b"))  # fmt: skip
    return a, b, phones


def test_a_job_of_a_node_killed_mid_way_is_finished_by_another_without_sending_twice(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    a, b, phones = job_nodes(start_service, uas, postgres)
    job_id = start_slow_job(a.port)
    time.sleep(0.2)  # the answers are stored (every 10 ms); the next send is 0.8 s away
    a.process.kill()  # kill -9: node B finds node A's name free and takes the job over
    a.process.wait(timeout=10)
    with RawAmi(b.port) as ami:
        ami.login()
        shown = job_when_answered(ami, job_id, 4)
        assert shown.count(b"\r\nState: answered\r\n") == 4, shown
    assert "took over 1 fleet jobs of node node-a" in b.log()
    for phone in phones:
        assert phone.finish() == 0, phone.output
        assert len(phone.received()) == 1  # one NOTIFY each, across both nodes


def test_a_tcp_contact_of_a_dead_node_is_reported_unreachable_until_it_registers_again(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    a, b = node(start_service, dsn, "node-a"), node(start_service, dsn, "node-b")
    uri = "sip:bob@127.0.0.1:9;transport=tcp"  # only node A's connection reaches it
    with RawAmi(b.port) as watcher:
        watcher.login(events="system")
        reg = register(uas, a, protocol="tcp", contact=uri, hold_ms=15000)
        wait_for(lambda: contacts(b) == [(uri, "node-a")], 10, "node B to learn of it")
        a.process.kill()
        a.process.wait(timeout=10)
        watcher.sock.settimeout(15)
        unreachable = f"URI: {uri}\r\nContactStatus: Unreachable\r\n".encode()
        while unreachable not in watcher.message():  # (its Created came first)
            pass
        watcher.send(b"Action: PJSIPShowContacts\r\nActionID: c\r\n\r\n")
        listed = watcher.read_until(b"Event: ContactListComplete\r\n")
        assert b"\r\nStatus: Unreachable\r\n" in listed
    reg.stop()
    again = register(uas, b, protocol="tcp", contact=uri, hold_ms=3000)
    wait_for(lambda: contacts(b) == [(uri, "node-b")], 10, "the contact to register anew")
    with RawAmi(b.port) as ami:
        ami.login()
        ami.send(b"Action: PJSIPShowContacts\r\nActionID: c\r\n\r\n")
        assert b"\r\nStatus: Unreachable\r\n" not in ami.read_until(
            b"Event: ContactListComplete\r\n"
        )
    again.finish()


def test_a_jobs_events_reach_the_sessions_of_every_node(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    dsn = postgres.new_database()
    phones = [uas("uas_notify.xml") for _ in range(2)]
    shared = {"pjsip.conf": fleet_pjsip([p.port for p in phones])}
    a, b = (start_service(admin_conf(), files={**files(dsn, name), **shared})
            for name in ("node-a", "node-b"))  # fmt: skip
    with RawAmi(b.port) as on_b, RawAmi(a.port) as on_a:
        on_b.login(events="system")
        on_a.login()
        on_a.send(b"Action: FleetNotify\r\nActionID: far\r\nVerb: resync\r\nMatch: desk*\r\n"
                  b"Rate: unlimited\r\n\r\n")  # fmt: skip
        job_id = on_a.message().split(b"JobID: ", 1)[1].split(b"\r\n", 1)[0]
        on_b.sock.settimeout(15)
        heard = [on_b.message()]
        while not heard[-1].startswith(b"Event: FleetJobComplete\r\n"):
            heard.append(on_b.message())
    phone_events = [m for m in heard if m.startswith(b"Event: FleetPhone\r\n")]
    assert len(phone_events) >= 2  # each phone's progress, as node A's sessions hear it
    assert all(b"JobID: " + job_id + b"\r\n" in m for m in (*phone_events, heard[-1]))
    assert b"ActionID: far\r\n" in heard[-1]
    for phone in phones:
        assert phone.finish() == 0, phone.output


def fleet_action(port: int, action: str, job_id: str) -> bytes:
    with RawAmi(port) as ami:
        ami.login()
        ami.send(f"Action: {action}\r\nActionID: x\r\nJobID: {job_id}\r\n\r\n".encode())
        return ami.message()


def listed_state(port: int, job_id: str) -> str:
    """The job's State as FleetJobs lists it on the node at `port`."""
    with RawAmi(port) as ami:
        ami.login()
        ami.send(b"Action: FleetJobs\r\nActionID: l\r\n\r\n")
        listed = ami.read_until(b"Event: FleetJobListComplete\r\n")
    for item in listed.split(b"\r\n\r\n"):
        if f"\r\nJobID: {job_id}\r\n".encode() in item:
            return item.split(b"\r\nState: ", 1)[1].split(b"\r\n", 1)[0].decode()
    return ""


def test_a_job_one_node_runs_is_listed_paused_and_resumed_from_another(
    start_service: StartService, uas: Uas, postgres: Postgres
) -> None:
    a, b, phones = job_nodes(start_service, uas, postgres)
    job_id = start_slow_job(a.port)  # one phone a second, on node A
    assert fleet_action(b.port, "FleetPause", job_id).startswith(b"Response: Success\r\n")
    assert listed_state(b.port, job_id) == "paused"  # node B lists node A's job
    before = sum(len(p.received()) for p in phones)
    time.sleep(2.5)  # node A sends nothing while paused (it would send 2 or 3 meanwhile)
    assert sum(len(p.received()) for p in phones) == before
    assert fleet_action(b.port, "FleetResume", job_id).startswith(b"Response: Success\r\n")
    for phone in phones:
        assert phone.finish() == 0, phone.output
        assert len(phone.received()) == 1  # one NOTIFY each, all from node A
    wait_for(lambda: listed_state(b.port, job_id) == "done", 10, "the job to end")
    ended = fleet_action(b.port, "FleetCancel", job_id)
    assert ended.startswith(b"Response: Error\r\n")
    assert b"has already ended (done)" in ended

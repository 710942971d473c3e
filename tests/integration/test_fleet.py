"""Fleet jobs over AMI against real phones (SIPp UAS): a dry run sends nothing; a job reaches
every selected phone once, reports each phone as it answers and the totals at its end, and is
listed afterwards."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from tests.integration.conftest import RawAmi, StartService, Uas, admin_conf
from tests.integration.ports import free_port
from tests.integration.sipp import SCENARIOS, Sipp


def pjsip(ports: list[int]) -> str:
    text = "[local]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
    text += "[system]\ntype=system\ntimer_t1=100\ntimer_b=6400\n"
    for n, port in enumerate(ports, 1):
        text += f"[desk{n}]\ntype=aor\ncontact=sip:desk{n}@127.0.0.1:{port}\n"
        text += f"[desk{n}]\ntype=endpoint\naors=desk{n}\n"
    return (
        text
        + "[lobby]\ntype=aor\ncontact=sip:lobby@127.0.0.1:9\n[lobby]\ntype=endpoint\naors=lobby\n"
    )


def field(message: bytes, name: str) -> str:
    found = re.search(rb"\r\n" + name.encode() + rb": ([^\r]*)\r\n", message)
    assert found is not None, message
    return found.group(1).decode()


def test_a_fleet_job_reaches_the_chosen_phones_once_and_reports_them(
    start_service: StartService, uas: Uas
) -> None:
    phones = [uas("uas_notify.xml") for _ in range(3)]
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip([p.port for p in phones])})
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        ami.send(b"Action: FleetNotify\r\nActionID: d\r\nVerb: resync\r\nMatch: desk*\r\n"
                 b"DryRun: yes\r\n\r\n")  # fmt: skip
        dry = ami.read_until(b"Event: FleetDryRunComplete\r\n")
        assert dry.count(b"Event: FleetDryRunPhone\r\n") == 3
        assert b"Request: Event: check-sync\r\n" in dry
        ami.message()  # the rest of the completion event
        ami.send(b"Action: FleetNotify\r\nActionID: j\r\nVerb: resync\r\nMatch: desk*\r\n"
                 b"Rate: unlimited\r\n\r\n")  # fmt: skip
        started = ami.message()
        assert field(started, "Message") == "Fleet job started"
        assert field(started, "Phones") == "3"
        job_id = field(started, "JobID")
        complete = ami.read_until(b"Event: FleetJobComplete\r\nActionID: j\r\n") + ami.message()
        assert complete.count(b"\r\nState: answered\r\n") >= 3
        assert complete.count(b"Event: FleetPhone\r\nActionID: j\r\n") >= 6  # sent, answered
        assert f"JobID: {job_id}\r\n".encode() in complete
        assert "\r\nAnswered: 3\r\n" in complete.decode()
        ami.send(b"Action: FleetJobs\r\nActionID: l\r\n\r\n")
        listed = ami.read_until(b"Event: FleetJobListComplete\r\n")
        assert f"JobID: {job_id}\r\n".encode() in listed
        assert b"State: done\r\n" in listed
    for phone in phones:
        assert phone.finish() == 0, phone.output
        (notify,) = phone.received()
        assert b"\r\nEvent: check-sync\r\n" in notify


def cli(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipnotify", *args, "--port", str(port), "--secret", "s3cret"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_command_line_runs_a_job_to_its_end_and_lists_it(
    start_service: StartService, uas: Uas
) -> None:
    phones = [uas("uas_notify.xml") for _ in range(2)]
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip([p.port for p in phones])})
    dry = cli(service.port, "reboot", "--match", "desk*", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "desk1 sip:desk1@127.0.0.1:" in dry.stdout
    assert "    Event: check-sync;reboot=true" in dry.stdout
    done = cli(service.port, "resync", "--match", "desk*", "--rate", "unlimited")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("job ")
    assert lines[0].endswith(": 2 phones")
    assert sum(" -> answered 200" in line for line in lines) == 2
    assert lines[-1].endswith(": 2 phones: 2 answered")
    listed = cli(service.port, "jobs")
    assert listed.returncode == 0, listed.stderr
    assert "Order=resync  State=done  Total=2  Answered=2" in listed.stdout
    refused = cli(service.port, "reboot", "--regex", "(")
    assert refused.returncode == 1
    assert "the endpoint regex '(' does not compile" in refused.stderr
    for phone in phones:
        assert phone.finish() == 0, phone.output


def on_a_terminal(port: int, *args: str) -> tuple[int, str]:
    """Run the command line with a pseudo-terminal as its output: what a person would see."""
    main, follower = pty.openpty()
    command = [sys.executable, "-m", "sipnotify", *args, "--port", str(port), "--secret", "s3cret"]
    with subprocess.Popen(command, stdout=follower, stderr=subprocess.PIPE,
                          env={**os.environ, "COLUMNS": "150"}) as process:  # fmt: skip
        os.close(follower)
        seen = bytearray()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the other side closed: the command ended
                break
            if not chunk:
                break
            seen += chunk
        os.close(main)
        code = process.wait(timeout=10)
    return code, seen.decode("utf-8", "replace")


def test_on_a_terminal_a_progress_bar_and_tables_and_exit_3_when_a_phone_fails(
    start_service: StartService, uas: Uas
) -> None:
    phones = [uas("uas_notify.xml"), uas("uas_481.xml")]
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip([p.port for p in phones])})
    code, seen = on_a_terminal(service.port, "resync", "--match", "desk*", "--rate", "unlimited")
    assert code == 3, seen
    assert "2/2" in seen  # the bar, full
    assert "desk2 sip:desk2@127.0.0.1:" in seen
    assert "-> failed 481" in seen  # printed above the bar as it settled
    assert "phones to look at" in seen  # the final table
    listed = cli(service.port, "jobs", "--csv")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header == "JobID,Order,State,Total,Answered,Confirmed,Ignored,Failed"
    assert row.endswith(",resync,done,2,1,0,0,1")
    for phone in phones:
        assert phone.finish() == 0, phone.output


def start_slow_job(port: int) -> str:
    """A resync of every desk at 1 a second; returns its id once two phones answered (the
    others not yet sent to)."""
    with RawAmi(port) as ami:
        ami.login(events="system")
        ami.send(b"Action: FleetNotify\r\nActionID: j\r\nVerb: resync\r\nMatch: desk*\r\n"
                 b"Rate: 1\r\nJitter: 0\r\n\r\n")  # fmt: skip
        job_id = field(ami.message(), "JobID")
        answered = 0
        while answered < 2:
            if b"\r\nState: answered\r\n" in ami.message():
                answered += 1
    return job_id


def job_when_answered(ami: RawAmi, job_id: str, answered: int) -> bytes:
    """FleetJob's reply and list, asked every 0.1 s (10 s at most) until `answered` phones are
    in state answered; the last one read."""
    shown = b""
    for _ in range(100):
        ami.send(f"Action: FleetJob\r\nActionID: s\r\nJobID: {job_id}\r\n\r\n".encode())
        shown = ami.read_until(b"\r\n\r\n")
        if shown.startswith(b"Response: Success"):
            shown += ami.read_until(b"Event: FleetJobPhoneListComplete\r\n") + ami.message()
            if shown.count(b"\r\nState: answered\r\n") == answered:
                break
        time.sleep(0.1)
    return shown


def test_a_job_killed_mid_way_resumes_and_never_sends_twice_to_a_phone_that_answered(
    start_service: StartService, uas: Uas, tmp_path: Path
) -> None:
    phones = [uas("uas_notify.xml", timeout=60) for _ in range(4)]
    files = {"pjsip.conf": pjsip([p.port for p in phones])}
    data = ("--data-dir", str(tmp_path / "jobs-data"))
    first = start_service(admin_conf(), files=files, extra_args=data)
    job_id = start_slow_job(first.port)
    first.process.kill()  # kill -9
    first.process.wait(timeout=10)
    second = start_service(admin_conf(), files=files, extra_args=data)
    with RawAmi(second.port) as ami:
        ami.login(events="system")
        shown = job_when_answered(ami, job_id, 4)
        assert shown.count(b"\r\nState: answered\r\n") == 4, shown
    assert "resumed 1 fleet jobs" in second.log()
    for phone in phones:
        assert phone.finish() == 0, phone.output
        assert len(phone.received()) == 1  # one NOTIFY each, across both lives


STAMP = re.compile(rb"-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n(?:UDP|TCP|TLS) message received")


def received_at(phone: Sipp) -> list[float]:
    """When the phone received each message, from SIPp's own log."""
    if not phone.messages_file.exists():
        return []
    stamps = STAMP.findall(phone.messages_file.read_bytes())
    return [datetime.strptime(s.decode(), "%Y-%m-%d %H:%M:%S.%f").timestamp() for s in stamps]


def test_a_scheduled_paced_job_starts_on_time_keeps_its_rate_and_stops_when_cancelled(
    start_service: StartService, uas: Uas
) -> None:
    phones = [uas("uas_notify.xml", timeout=30) for _ in range(4)]
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip([p.port for p in phones])})
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        start_at = time.time() + 1.5
        ami.send(f"Action: FleetNotify\r\nActionID: j\r\nVerb: resync\r\nMatch: desk*\r\n"
                 f"Rate: 2\r\nJitter: 0\r\nStartAt: {start_at:.3f}\r\n\r\n".encode())  # fmt: skip
        started = ami.message()
        assert field(started, "State") == "scheduled"
        job_id = field(started, "JobID")
        answered = 0
        while answered < 2:
            if b"\r\nState: answered\r\n" in ami.message():
                answered += 1
        ami.send(f"Action: FleetCancel\r\nActionID: c\r\nJobID: {job_id}\r\n\r\n".encode())
        while b"ActionID: c\r\n" not in (reply := ami.message()):
            pass
        assert field(reply, "Message") == f"Fleet job {job_id} cancelled"
    time.sleep(1.2)  # long enough for two more sends, had the job gone on
    times = sorted(t for phone in phones for t in received_at(phone))
    assert len(times) == 2  # the other two phones were never sent to
    assert times[0] >= start_at - 0.05  # not before its start time
    assert times[1] - times[0] >= 0.45  # two phones a second, measured at the phones


REGISTERING = """[local]
type=transport
protocol=udp
bind=127.0.0.1:0
[yl1]
type=aor
max_contacts=1
[yl1]
type=endpoint
aors=yl1
[yl2]
type=aor
max_contacts=1
[yl2]
type=endpoint
aors=yl2
"""


def test_a_reboot_is_confirmed_by_the_phone_registering_afresh_with_its_new_firmware(
    start_service: StartService, uas: Uas
) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": REGISTERING})
    phone = uas("uac_register_plain.xml", timeout=30, extra=(
        f"127.0.0.1:{service.sip_port()}", "-set", "user", "yl1",
        "-set", "before", "Yealink SIP-T46S 66.86.0.15",
        "-set", "after", "Yealink SIP-T46S 66.86.0.20",
        "-d", "5000", "-oocsf", str(SCENARIOS / "uas_notify_reboot.xml"),
    ))  # fmt: skip
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        for _ in range(50):  # until the phone has registered
            ami.send(b"Action: PJSIPShowContacts\r\nActionID: c\r\n\r\n")
            if b"Event: ContactList\r\n" in ami.read_until(b"\r\n\r\n") + ami.message():
                break
            time.sleep(0.1)
        ami.send(b"Action: FleetNotify\r\nActionID: j\r\nVerb: reboot\r\nAll: yes\r\n"
                 b"UserAgent: ^Yealink\r\nRate: unlimited\r\n\r\n")  # fmt: skip
        started = ami.read_until(b"ActionID: j\r\n") + ami.message()
        assert field(started, "Phones") == "1", started
        done = ami.read_until(b"Event: FleetJobComplete\r\n") + ami.message()
        assert b"\r\nState: confirmed\r\n" in done
        assert b"\r\nUserAgentBefore: Yealink SIP-T46S 66.86.0.15\r\n" in done
        assert b"\r\nUserAgentAfter: Yealink SIP-T46S 66.86.0.20\r\n" in done
        assert b"\r\nConfirmed: 1\r\n" in done
    (notify,) = [m for m in phone.received() if m.startswith(b"NOTIFY ")]
    assert b"\r\nEvent: check-sync;reboot=true\r\n" in notify  # Yealink's reboot


def test_a_phone_that_refuses_fails_with_its_answer_and_an_offline_one_is_retried(
    start_service: StartService, uas: Uas
) -> None:
    refusing = uas("uas_489.xml")
    offline = free_port()  # nothing listens there
    service = start_service(admin_conf(), files={"pjsip.conf": pjsip([refusing.port, offline])})
    with RawAmi(service.port) as ami:
        ami.login(events="system")
        ami.send(b"Action: FleetNotify\r\nActionID: j\r\nVerb: resync\r\nMatch: desk*\r\n"
                 b"Rate: unlimited\r\nDeadline: 60\r\n\r\n")  # fmt: skip
        job_id = field(ami.message(), "JobID")
        failed = ami.read_until(b"\r\nState: failed\r\n") + ami.message()
        assert b"\r\nStatusCode: 489\r\n" in failed
        assert b"Endpoint: desk1\r\n" in failed
        for _ in range(100):  # Timer F (timer_b=6400) runs out for the offline phone
            ami.send(f"Action: FleetJob\r\nActionID: s\r\nJobID: {job_id}\r\n\r\n".encode())
            shown = ami.read_until(b"Event: FleetJobPhoneListComplete\r\n") + ami.message()
            if b"Endpoint: desk2\r\n" in shown and b"State: retrying\r\n" in shown:
                break
            time.sleep(0.2)
        assert b"State: retrying\r\n" in shown, shown
    assert refusing.finish() == 0, refusing.output


# The fleet: (User-Agent, the Event its vendor's reboot NOTIFY carries), 8 vendors.
FLEET_UAS = (
    ("Yealink SIP-T46S 66.86.0.15", "check-sync;reboot=true"),
    ("PolycomVVX-VVX_411-UA/6.4.3.5018", "check-sync"),
    ("snomD785/10.1.54.13", "check-sync;reboot=true"),
    ("Cisco/SPA504G-7.6.2", "reboot"),
    ("Cisco-CP8865/14.1.1", "service-control"),
    ("Grandstream GXP2170 1.0.11.3", "check-sync;reboot=true"),
    ("Htek UC926 2.0.4.4.46", "check-sync;reboot=true"),
    ("Acme DeskPhone 1.0", "check-sync;reboot=true"),  # nobody's: the fallback
)
FLEET_SIZE = 200


def test_a_fleet_of_200_registered_phones_of_8_vendors_reboots_under_the_per_address_cap(
    start_service: StartService, uas: Uas, tmp_path: Path
) -> None:
    """Every phone gets its own vendor's reboot, once; all 200 sit behind one address, whose
    cap (4) holds at every moment; none registers again, so all are reported ignored."""
    desks = uas("uas_notify_slowly.xml", calls=FLEET_SIZE, timeout=90)
    conf = "[local]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n" + "".join(
        f"[phone{n:03}]\ntype=aor\nmax_contacts=1\n[phone{n:03}]\ntype=endpoint\naors=phone{n:03}\n"
        for n in range(FLEET_SIZE)
    )
    service = start_service(admin_conf(), files={
        "pjsip.conf": conf, "sipnotify.conf": "[fleet]\nconfirm_window = 2\n",
    })  # fmt: skip
    phones = tmp_path / "phones.csv"
    phones.write_text("SEQUENTIAL\n" + "".join(
        f"phone{n:03};{FLEET_UAS[n % len(FLEET_UAS)][0]};{desks.port}\n" for n in range(FLEET_SIZE)
    ))  # fmt: skip
    registering = uas("uac_register_many.xml", calls=FLEET_SIZE, remote=service.sip_port(),
                      timeout=60, extra=("-inf", str(phones), "-r", "100"))  # fmt: skip
    assert registering.finish(timeout=60) == 0, registering.output  # every REGISTER got 200
    with RawAmi(service.port, timeout=60) as ami:
        ami.login(events="system")
        ami.send(b"Action: FleetNotify\r\nActionID: d\r\nVerb: reboot\r\nDryRun: yes\r\n"
                 b"All: yes\r\nUserAgent: ^(Yealink|snom)\r\n\r\n")  # fmt: skip
        dry = ami.read_until(b"Event: FleetDryRunComplete\r\n")
        assert dry.count(b"Event: FleetDryRunPhone\r\n") == FLEET_SIZE // len(FLEET_UAS) * 2
        assert set(re.findall(rb"\r\nVendor: (\w+)\r\n", dry)) == {b"yealink", b"snom"}
        ami.send(b"Action: FleetNotify\r\nActionID: r\r\nVerb: reboot\r\nAll: yes\r\n"
                 b"Confirm: yes\r\nRate: unlimited\r\nInFlight: 50\r\nPerAddress: 4\r\n"
                 b"Jitter: 0\r\n\r\n")  # fmt: skip
        done = ami.read_until(b"Event: FleetJobComplete\r\nActionID: r\r\n") + ami.message()
        assert f"\r\nIgnored: {FLEET_SIZE}\r\n".encode() in done, done
    assert desks.finish(timeout=30) == 0, desks.output
    notifies = desks.received()
    events = {field(n, "To").split("@")[0][5:]: field(n, "Event") for n in notifies}
    assert len(notifies) == len(events) == FLEET_SIZE  # one each, to every phone
    for name, event in events.items():
        assert event == FLEET_UAS[int(name[5:]) % len(FLEET_UAS)][1], (name, event)
    stamps = sorted(received_at(desks))
    at_once = [sum(t <= u < t + 0.07 for u in stamps) for t in stamps]
    assert max(at_once) == 4  # each answer takes 80 ms: never more than 4 outstanding

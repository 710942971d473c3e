"""The fleet actions in memory (the SIP endpoint a fake answering 200 at once): a dry run, a
job started, listed, shown and cancelled, and every refusal with its message."""

from __future__ import annotations

import asyncio

import pytest

from sipnotify.ami.codec import AmiDecoder, AmiMessage
from sipnotify.ami.session import SessionState
from sipnotify.config import permissions
from tests.ami.helpers import FakeSender, Session, context

PJSIP = "".join(
    f"[desk{n:02}]\ntype=aor\ncontact=sip:desk{n:02}@192.0.2.{n}:5060\n"
    f"[desk{n:02}]\ntype=endpoint\naors=desk{n:02}\n"
    for n in range(1, 13)
)
ADMIN = "Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n"


async def settle() -> None:
    """Let the loop run what the job scheduled (its first pass comes after the reply)."""
    for _ in range(5):
        await asyncio.sleep(0)


def session(sender: FakeSender | None = None) -> Session:
    made = Session(context(pjsip_conf=PJSIP, sender=sender))
    made.send(ADMIN)
    return made


def action(name: str, *lines: str) -> str:
    return f"Action: {name}\r\nActionID: f\r\n" + "".join(f"{x}\r\n" for x in lines) + "\r\n"


def test_a_dry_run_shows_each_phone_its_vendor_and_the_notify() -> None:
    sender = FakeSender()
    made = session(sender)
    messages = made.messages(action("FleetNotify", "Verb: reboot", "Match: desk0[12]",
                                    "DryRun: yes"))  # fmt: skip
    assert dict(messages[0])["Message"] == "Fleet dry run follows"
    first = messages[1]
    assert dict(first)["Event"] == "FleetDryRunPhone"
    assert dict(first)["Vendor"] == "fallback"
    request = [value for name, value in first if name == "Request"]
    assert request[0] == "NOTIFY sip:desk01@192.0.2.1:5060 SIP/2.0"
    assert "Event: check-sync;reboot=true" in request
    assert dict(messages[-1])["ListItems"] == "2"
    assert sender.sent == []
    assert made.ctx.fleet.jobs() == []


def test_a_job_is_started_listed_and_shown() -> None:
    made = session()

    async def start() -> dict[str, str]:
        (reply,) = made.run(action("FleetNotify", "Verb: resync", "All: yes", "Rate: unlimited"))
        await settle()
        return reply

    reply = asyncio.run(start())
    assert (reply["Message"], reply["Phones"], reply["State"]) == (
        "Fleet job started",
        "12",
        "running",
    )
    listed = made.run(action("FleetJobs"))
    (job,) = [m for m in listed if m.get("Event") == "FleetJob"]
    assert (job["JobID"], job["Order"], job["Selection"]) == (
        reply["JobID"],
        "resync",
        "all endpoints",
    )
    shown = made.run(action("FleetJob", f"JobID: {reply['JobID']}"))
    phones = [m for m in shown if m.get("Event") == "FleetJobPhone"]
    assert len(phones) == 12
    assert phones[0]["URI"] == "sip:desk01@192.0.2.1:5060"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("All: yes",), "FleetNotify needs one of Verb, Option, MWI or Variable"),
        (("Verb: reboot", "Option: x", "All: yes"), "FleetNotify needs one of Verb"),
        (("Verb: explode", "All: yes"), "unknown verb 'explode': use resync or reboot"),
        (("Verb: resync",), "choose phones: all, endpoint names, a pattern or a regex"),
        (("Verb: resync", "Regex: ("), "the endpoint regex '(' does not compile"),
        (("Verb: resync", "Endpoint: nobody"), "no endpoint named nobody"),
        (("Verb: resync", "All: yes", "Rate: 0"), "a rate of 0 phones per second sends nothing"),
        (("Verb: resync", "All: yes", "InFlight: -1"), "a cap of -1 NOTIFYs in flight"),
        (("Verb: resync", "All: yes", "Rate: fast"), "Rate 'fast' is not a number"),
        (("Verb: resync", "All: yes", "InFlight: 2.5"), "InFlight '2.5' is not a whole number"),
        (("Verb: resync", "All: yes", "PerAddress: 1.5"), "PerAddress '1.5' is not a whole"),
        (("MWI: lots", "All: yes"), "MWI 'lots' is not new/old, as 2/0"),
        (("Verb: resync", "All: yes", "StartAt: 10"), "the start time is in the past"),
        (("Verb: resync", "All: yes", "Registration: maybe"), "Registration 'maybe'"),
        (("Verb: reboot", "All: yes"), "reboot of 12 phones needs confirming (more than 10)"),
        (("Option: nope", "All: yes"), "no notify type 'nope' in pjsip_notify.conf"),
    ],
)
def test_refusals_say_what_was_wrong_and_send_nothing(lines: tuple[str, ...], message: str) -> None:
    sender = FakeSender()
    made = session(sender)
    (reply,) = made.run(action("FleetNotify", *lines))
    assert reply["Response"] == "Error"
    assert reply["Message"].startswith(message)
    assert sender.sent == []
    assert made.ctx.fleet.jobs() == []


def test_cancel_and_show_of_a_job_that_does_not_exist() -> None:
    made = session()
    assert made.run(action("FleetCancel", "JobID: nope"))[0]["Message"] == "no job nope"
    assert made.run(action("FleetJob", "JobID: nope"))[0]["Message"] == "no job nope"


def test_pause_resume_and_cancel_a_job() -> None:
    made = session(FakeSender())

    async def test() -> None:
        (reply,) = made.run(action("FleetNotify", "Verb: resync", "All: yes", "Rate: 1"))
        job_id = reply["JobID"]
        assert made.run(action("FleetPause", f"JobID: {job_id}"))[0]["Message"] == (
            f"Fleet job {job_id} paused"
        )
        assert made.run(action("FleetResume", f"JobID: {job_id}"))[0]["Message"] == (
            f"Fleet job {job_id} resumed"
        )
        assert made.run(action("FleetResume", f"JobID: {job_id}"))[0]["Message"] == (
            f"job {job_id} is not paused"
        )
        assert made.run(action("FleetCancel", f"JobID: {job_id}"))[0]["Message"] == (
            f"Fleet job {job_id} cancelled"
        )

    asyncio.run(test())


class Listening:
    """A session in the audience, taking every class of event."""

    def __init__(self) -> None:
        self.heard: list[bytes] = []
        self.session = SessionState(peer="127.0.0.1", authenticated=True,
                                    readperm=permissions.ALL)  # fmt: skip

    def send_event(self, data: bytes) -> None:
        self.heard.append(data)


def test_job_events_carry_the_action_id_that_started_the_job() -> None:
    made, listening = session(), Listening()
    made.ctx.audience.join(listening)

    async def start() -> dict[str, str]:
        (reply,) = made.run(action("FleetNotify", "Verb: resync", "Endpoint: desk01"))
        await settle()
        return reply

    job_id = asyncio.run(start())["JobID"]
    events = [_fields(data) for data in listening.heard]
    assert [(e["Event"], e["ActionID"], e["JobID"]) for e in events] == [
        ("FleetPhone", "f", job_id),  # sent
        ("FleetPhone", "f", job_id),  # answered
        ("FleetJobComplete", "f", job_id),
    ]
    assert list(events[0])[:3] == ["Event", "ActionID", "Privilege"]
    assert [e["State"] for e in events] == ["sent", "answered", "done"]


def test_list_replies_end_with_their_own_complete_events() -> None:
    made = session()
    listed = made.run(action("FleetJobs"))
    assert (listed[-1]["Event"], listed[-1]["EventList"]) == ("FleetJobListComplete", "Complete")
    asyncio.run(_started(made))
    job_id = made.ctx.fleet.jobs()[0].id
    shown = made.run(action("FleetJob", f"JobID: {job_id}"))
    assert shown[-1]["Event"] == "FleetJobPhoneListComplete"
    assert shown[-1]["ListItems"] == "12"


def _fields(data: bytes) -> dict[str, str]:
    (decoded,) = AmiDecoder().feed(data)
    assert isinstance(decoded, AmiMessage)
    return dict(decoded.headers)


async def _started(made: Session) -> None:
    made.run(action("FleetNotify", "Verb: resync", "All: yes", "Rate: unlimited"))
    await settle()

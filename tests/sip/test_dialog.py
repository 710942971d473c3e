"""RFC 3261 §12 dialogs: built from an INVITE (UAS) or a response (UAC), in-dialog requests."""

from __future__ import annotations

from sipnotify.sip.dialog import (
    Dialog,
    DialogId,
    DialogState,
    uac_dialog,
    uas_dialog,
)
from sipnotify.sip.message import Request, Response


def state_of(dialog: Dialog) -> DialogState:
    """Read the state through a call, so the type checker does not pin an earlier value."""
    return dialog.state


INVITE = Request(
    method="INVITE",
    uri="sip:100@127.0.0.1:15060",
    headers=(
        ("Via", "SIP/2.0/UDP 127.0.0.1:16061;branch=z9hG4bK-1"),
        ("From", '"alice" <sip:alice@127.0.0.1:16061>;tag=A1'),
        ("To", "<sip:100@127.0.0.1:15060>"),
        ("Call-ID", "call-1"),
        ("CSeq", "1 INVITE"),
        ("Contact", "<sip:alice@127.0.0.1:16061>"),
        ("Record-Route", "<sip:p1;lr>, <sip:p2;lr>"),
    ),
)


def test_uas_dialog_from_invite() -> None:
    dialog = uas_dialog(INVITE, "B2")
    assert dialog.id == DialogId("call-1", "B2", "A1")
    assert dialog.remote_target == "sip:alice@127.0.0.1:16061"
    assert dialog.route_set == ("<sip:p1;lr>", "<sip:p2;lr>")
    assert state_of(dialog) is DialogState.EARLY
    dialog.confirm()
    assert state_of(dialog) is DialogState.CONFIRMED


def test_in_dialog_request_carries_tags_route_and_next_cseq() -> None:
    dialog = uas_dialog(INVITE, "B2", confirmed=True)
    bye = dialog.request("BYE", via="SIP/2.0/UDP h:1;branch=z9hG4bK1", contact="sip:h:1")
    assert [name for name, _ in bye.headers[:6]] == [
        "Via", "From", "To", "Contact", "Call-ID", "CSeq",
    ]  # fmt: skip
    assert bye.uri == "sip:alice@127.0.0.1:16061"
    assert bye.header("From") == "<sip:100@127.0.0.1:15060>;tag=B2"
    assert bye.header("To") == '"alice" <sip:alice@127.0.0.1:16061>;tag=A1'
    assert bye.header("CSeq") == "1 BYE"
    assert bye.header_values("Route") == ["<sip:p1;lr>", "<sip:p2;lr>"]
    notify = dialog.request("NOTIFY", via="v", contact="c")
    assert notify.header("CSeq") == "2 NOTIFY"


def test_remote_cseq_must_grow_except_for_ack_and_cancel() -> None:
    dialog = uas_dialog(INVITE, "B2")
    bye = Request(method="BYE", uri="x", headers=(("CSeq", "2 BYE"),))
    again = Request(method="BYE", uri="x", headers=(("CSeq", "1 BYE"),))
    ack = Request(method="ACK", uri="x", headers=(("CSeq", "1 ACK"),))
    assert dialog.accepts(ack)
    assert dialog.accepts(bye)
    assert not dialog.accepts(again)


def test_uac_dialog_reverses_record_route_and_uses_the_contact() -> None:
    invite = Request(
        method="INVITE",
        uri="sip:bob@192.0.2.9",
        headers=(("From", "<sip:svc@h>;tag=L"), ("Call-ID", "c"), ("CSeq", "7 INVITE")),
    )
    ringing = Response(
        status=180,
        reason="Ringing",
        headers=(
            ("To", "<sip:bob@192.0.2.9>;tag=R"),
            ("Contact", "<sip:bob@192.0.2.9:5070>"),
            ("Record-Route", "<sip:p1;lr>"),
            ("Record-Route", "<sip:p2;lr>"),
        ),
    )
    dialog = uac_dialog(invite, ringing)
    assert dialog.state is DialogState.EARLY
    assert dialog.route_set == ("<sip:p2;lr>", "<sip:p1;lr>")
    assert dialog.remote_target == "sip:bob@192.0.2.9:5070"
    assert dialog.request("NOTIFY", via="v", contact="c").header("CSeq") == "8 NOTIFY"

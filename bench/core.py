"""B10: the sans-IO hot path in this process, without sockets or peers.

Microseconds per operation, the best of several timed rounds: steadier than the end-to-end
figures, which move with the machine, so a change to the cores is judged here first.
- `register_us`: a digest REGISTER parsed, its transaction key, its To, From and Contact and
  its Authorization read, and its 200 OK built and serialised.
- `peek_us`: the same REGISTER matched as a retransmission on its bytes.
- `response_head_us`: a 200 OK to a NOTIFY read for its transaction (branch, method, status).
- `ami_action_us`: a PJSIPNotify action decoded from the AMI byte stream.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from sipnotify.ami.codec import AmiDecoder
from sipnotify.sip.auth import parse_answer
from sipnotify.sip.message import Request, serialize
from sipnotify.sip.parser import parse_message, peek_response
from sipnotify.sip.responses import make_response
from sipnotify.sip.transactions.matching import peek_server_key, server_key
from sipnotify.sip.uri import parse_name_addr

REGISTER = (
    b"REGISTER sip:127.0.0.1:5070 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK-1-2-3;rport\r\n"
    b"From: <sip:p17@127.0.0.1>;tag=abc123\r\n"
    b"To: <sip:p17@127.0.0.1>\r\n"
    b"Call-ID: 1-2345@127.0.0.1\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:p17@127.0.0.1:6000>;expires=600\r\n"
    b"Max-Forwards: 70\r\n"
    b'Authorization: Digest username="p17",realm="asterisk",nonce="1700000000/0123456789abcd'
    b'ef0123456789abcdef",uri="sip:127.0.0.1:5070",response="0123456789abcdef0123456789abcd'
    b'ef",algorithm=MD5,cnonce="1234",qop=auth,nc=00000001\r\n'
    b"Expires: 600\r\nUser-Agent: SIPp\r\nContent-Length: 0\r\n\r\n"
)
OK_TO_NOTIFY = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;rport=5070;received=127.0.0.1;branch=z9hG4bKabc.1\r\n"
    b"From: <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:alice@127.0.0.1:6000>;tag=t1\r\n"
    b"Call-ID: c1\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n"
)
ACTION = b"Action: PJSIPNotify\r\nActionID: 42\r\nEndpoint: alice\r\nOption: check-sync\r\n\r\n"
SOURCE = ("127.0.0.1", 6000)
CONTACT = (("Contact", "<sip:p17@127.0.0.1:6000>;expires=600"), ("Expires", "600"))


def _register() -> None:
    request = parse_message(REGISTER)
    assert isinstance(request, Request)
    server_key(request)
    for name in ("To", "From", "Contact"):
        parse_name_addr(request.header(name) or "")
    parse_answer(request.header("Authorization") or "")
    serialize(make_response(request, 200, "OK", SOURCE, server="sipnotify", extra=CONTACT,
                            to_tag="t1"))  # fmt: skip


def _peek() -> None:
    assert peek_server_key(REGISTER) is not None


def _response_head() -> None:
    assert peek_response(OK_TO_NOTIFY) is not None


def _ami_action() -> None:
    assert len(AmiDecoder().feed(ACTION)) == 1


def best_us(operation: Callable[[], object], number: int, rounds: int = 7) -> float:
    """The fastest round's time per call, in microseconds."""
    return min(timeit.repeat(operation, number=number, repeat=rounds)) / number * 1e6


def b10(number: int = 20_000) -> dict[str, float]:
    return {
        "register_us": best_us(_register, number),
        "peek_us": best_us(_peek, number),
        "response_head_us": best_us(_response_head, number),
        "ami_action_us": best_us(_ami_action, number),
    }

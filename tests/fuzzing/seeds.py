"""Starting inputs for each fuzz target: the SIP torture corpus, the embedded configuration
files, and a few values of each kind."""

from __future__ import annotations

from pathlib import Path

from sipnotify.config.load import DEFAULTS_DIR

TORTURE = Path(__file__).parent.parent / "sip" / "torture"

AMI = [
    b"Action: Login\r\nUsername: admin\r\nSecret: s\r\nEvents: off\r\n\r\n",
    b'Action: PJSIPNotify\r\nEndpoint: alice\r\nVariable: Event=check-sync,X="a,b"\r\n\r\n',
    b"Action: Ping\nActionID: 1\n\n",
]
VALUES = {
    "sip.parse_uri": [b"sip:alice@192.0.2.1:5060;transport=tcp?X=1", b"sips:[2001:db8::1]:5061"],
    "sip.parse_name_addr": [b'"Alice" <sip:alice@h>;tag=1', b"sip:bob@h;expires=60"],
    "sip.parse_via": [b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport", b"SIP / 2.0 / TCP h"],
    "sip.parse_cseq": [b"17 NOTIFY", b"4294967295 REGISTER"],
    "sip.auth.parse_challenge": [b'Digest realm="asterisk", nonce="1/ab", qop="auth"'],
    "sip.auth.parse_answer": [
        b'Digest username="bob", realm="asterisk", nonce="1/ab", uri="sip:h", '
        b'response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="x"'
    ],
    "sip.sdp": [
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0 8 101\r\n"
    ],
    "ami.variables": [b'Event=check-sync,Content-Type=text/plain\nContent="a,b",X=(1,2)'],
}


def seeds(target: str) -> list[bytes]:
    if target in VALUES:
        return VALUES[target]
    if target.startswith("ami."):
        return AMI
    if target.startswith("config."):
        return [p.read_bytes() for p in sorted(DEFAULTS_DIR.glob("*.conf"))]
    return [p.read_bytes() for p in sorted(TORTURE.glob("*/*.sip"))]

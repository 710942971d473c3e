"""SDP offer/answer for one audio stream (RFC 4566, RFC 3264), sans I/O.

Owns reading an offer's connection address, audio port and payload types, choosing G.711
(PCMU 0, else PCMA 8: the only codecs sipnotify relays, it never transcodes), and writing the
answer or an offer in the shape Asterisk sends. Anything unreadable raises SdpError (the call
answers 488 Not Acceptable Here).
"""

from __future__ import annotations

from dataclasses import dataclass

from sipnotify.sip.lexical import is_decimal

CODECS = {0: "PCMU/8000", 8: "PCMA/8000"}


class SdpError(Exception):
    """An offer or answer that cannot be used."""


@dataclass(frozen=True, slots=True)
class Media:
    """The remote side of one audio stream: where to send RTP, and the payload types."""

    address: str
    port: int
    payloads: tuple[int, ...]


def parse(body: bytes) -> Media:
    """RFC 4566 §5: the session or media `c=` line and the first `m=audio` line."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise SdpError("SDP is not ASCII") from None
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or lines[0] != "v=0":
        raise SdpError("SDP must start with v=0")
    address = ""
    audio: tuple[int, tuple[int, ...]] | None = None
    for line in lines:
        kind, eq, value = line.partition("=")
        if not eq or len(kind) != 1:
            raise SdpError(f"bad SDP line {line[:40]!r}")
        if kind == "c" and (audio is None or not address):
            address = _connection(value)
        elif kind == "m" and audio is None and value.startswith("audio "):
            audio = _audio(value)
    if audio is None:
        raise SdpError("no audio stream offered")
    if not address:
        raise SdpError("no connection address")
    return Media(address=address, port=audio[0], payloads=audio[1])


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"bad c= line {value!r}")
    return parts[2].split("/")[0]


def _audio(value: str) -> tuple[int, tuple[int, ...]]:
    parts = value.split()
    numbers = [parts[1], *parts[3:]]
    if len(parts) < 4 or not all(is_decimal(p) for p in numbers):
        raise SdpError(f"bad m= line {value[:60]!r}")
    port = int(parts[1])
    if port > 65535:
        raise SdpError(f"bad port in m= line {value[:60]!r}")
    return port, tuple(int(p) for p in parts[3:])


def choose(offer: Media) -> int:
    """RFC 3264 §6.1: the first offered payload type we can take (PCMU or PCMA)."""
    for payload in offer.payloads:
        if payload in CODECS:
            return payload
    raise SdpError("no common codec (PCMU or PCMA needed)")


def describe(*, address: str, port: int, payloads: tuple[int, ...], session: int) -> bytes:
    """An offer or answer for one audio stream, laid out as Asterisk's."""
    family = "IP6" if ":" in address else "IP4"
    lines = [
        "v=0",
        f"o=- {session} {session + 2} IN {family} {address}",
        "s=sipnotify",
        f"c=IN {family} {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(p) for p in payloads)}",
        *(f"a=rtpmap:{p} {CODECS[p]}" for p in payloads),
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")

"""AMI wire codec, sans I/O: bytes in, messages out; fields in, bytes out (behaviour: AMI wire).

Owns the framing rules of Asterisk's main/manager.c get_input()/do_message(): lines end in
CRLF or a bare LF, a blank line ends a message, a line may take at most 1024 bytes with its
terminator, a message keeps at most 128 header lines. An over-long line or too many lines
does not lose the stream: the message ends in a `FramingError` carrying the text Asterisk
answers. Bytes that are not UTF-8 survive a round trip (surrogateescape). Imports nothing
of ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, final

MAX_LINE = 1024
MAX_HEADERS = 128
LINE_TOO_LONG = "Failed to parse message: line too long"
TOO_MANY_LINES = "Too many lines in message or allocation failure"

# ast_skip_blanks(): every byte below 33 before a value is skipped.
_BLANKS = "".join(chr(c) for c in range(1, 33))

Fields = tuple[tuple[str, str], ...]


@final
class AmiMessage:
    """One request: header (name, value) pairs in the order received. A plain class with
    `Final` attributes rather than a frozen dataclass, whose interpreted `__init__` cost
    1 µs per action (compiled, this one is immutable all the same); equal by its headers."""

    __match_args__ = ("headers",)

    def __init__(self, headers: Fields) -> None:
        self.headers: Final = headers
        self._first: Final = {name.lower(): value for name, value in reversed(headers)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AmiMessage) and other.headers == self.headers

    def __hash__(self) -> int:
        return hash(self.headers)

    def __repr__(self) -> str:
        return f"AmiMessage(headers={self.headers!r})"

    def get(self, name: str) -> str:
        """The first value of `name` (case-insensitive), or "" — astman_get_header()."""
        return self._first.get(name.lower(), "")

    def get_all(self, name: str) -> list[str]:
        """Every value of `name`, in order."""
        key = name.lower()
        return [value for header, value in self.headers if header.lower() == key]

    @property
    def action(self) -> str:
        """The first non-empty `Action` value (Asterisk skips empty ones for this header)."""
        return self.get("Action") or next((v for v in self.get_all("action") if v), "")


@dataclass(frozen=True, slots=True)
class FramingError:
    """A message that broke a framing limit; `message` holds the headers kept."""

    message: AmiMessage
    text: str


Incoming = AmiMessage | FramingError


class AmiDecoder:
    """Incremental decoder: feed any slices of the byte stream, get whole messages."""

    def __init__(self, *, max_line: int = MAX_LINE, max_headers: int = MAX_HEADERS) -> None:
        self._max_line = max_line
        self._max_headers = max_headers
        self._partial = b""
        self._headers: list[tuple[str, str]] = []
        self._lines = 0
        self._too_long = False
        self._skipping = False

    def feed(self, data: bytes) -> list[Incoming]:
        """Consume `data`; return every message it completes, in order."""
        if self._partial:
            data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        out: list[Incoming] = []
        if cut:
            # LF never occurs inside a UTF-8 sequence: decoding every complete line at once
            # gives what decoding them one by one would.
            text = data[: cut - 1].decode("utf-8", "surrogateescape")
            ascii_only = text.isascii()
            for line in text.split("\n"):
                self._line(line, ascii_only, out)
        if len(self._partial) >= self._max_line:
            self._partial = b""
            self._too_long = self._skipping = True
        return out

    def _line(self, line: str, ascii_only: bool, out: list[Incoming]) -> None:
        if self._skipping:
            self._skipping = False
            return
        size = len(line) if ascii_only else len(line.encode("utf-8", "surrogateescape"))
        if size >= self._max_line:
            self._too_long = True
            return
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            out.append(self._finish())
            return
        self._lines += 1
        if self._lines <= self._max_headers:
            name, colon, value = line.partition(":")
            if colon:
                self._headers.append((name, value.lstrip(_BLANKS)))

    def _finish(self) -> Incoming:
        message = AmiMessage(headers=tuple(self._headers))
        if self._lines > self._max_headers:
            result: Incoming = FramingError(message=message, text=TOO_MANY_LINES)
        elif self._too_long:
            result = FramingError(message=message, text=LINE_TOO_LONG)
        else:
            result = message
        self._headers = []
        self._lines = 0
        self._too_long = False
        return result


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """One outgoing message: `Name: value` lines, each CRLF-terminated, then a blank line."""
    text = "".join([f"{name}: {value}\r\n" for name, value in fields])
    return (text + "\r\n").encode("utf-8", "surrogateescape")

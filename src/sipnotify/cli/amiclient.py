"""A small AMI client for `sipnotify notify` and `sipnotify show`: log in, send one
PJSIPNotify per target (all at once) and collect each contact's answer from the result events,
matched by ActionID; or run a list action and collect its items.

Values given on the command line are escaped for Asterisk's `Variable:` splitting, so a
comma, quote or backslash in a value arrives as written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sipnotify.ami.codec import AmiDecoder, AmiMessage, FramingError, encode


class ClientError(Exception):
    """The AMI conversation failed as a whole (connection, login)."""


@dataclass
class TargetReport:
    """What became of one target: an AMI error, or one result event per contact."""

    target: str
    is_uri: bool = False
    error: str | None = None
    results: list[AmiMessage] = field(default_factory=list)
    sent: bool = False  # the server answered `NOTIFY sent`
    done: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.get("Result") == "Success" for r in self.results)


def escape_value(text: str) -> str:
    """Protect `\\`, `,` and `"` from Asterisk's argument splitter."""
    return "".join("\\" + c if c in '\\,"' else c for c in text)


@dataclass(frozen=True)
class Request:
    option: str | None
    variables: Sequence[tuple[str, str]]
    endpoints: Sequence[str]
    uris: Sequence[str]
    channels: Sequence[str] = ()


@dataclass(frozen=True)
class Server:
    """Where the AMI server is and how to log in."""

    host: str
    port: int
    username: str
    secret: str


Show = Callable[[str], None]  # gets each line of the report as soon as it is known


def reports_for(request: Request) -> list[TargetReport]:
    """One report per target, in the order given: endpoints, URIs, channels."""
    return [
        *(TargetReport(t) for t in request.endpoints),
        *(TargetReport(t, is_uri=True) for t in request.uris),
        *(TargetReport(t) for t in request.channels),
    ]


async def notify(server: Server, request: Request, reports: list[TargetReport], show: Show) -> None:
    """Fill `reports` as answers arrive, passing each line to `show` at once; returns when
    every target is done. Cancelled (a timeout), `reports` keeps what had arrived."""
    reader, writer = await connect(server)
    try:
        messages = await login(reader, writer, server.username, server.secret, events="system")
        writer.write(b"".join(_action(i, r, request) for i, r in enumerate(reports)))
        by_id = {str(i): report for i, report in enumerate(reports)}
        while not all(report.done for report in reports):
            _apply(await messages.next(), by_id, show)
    finally:
        writer.close()


async def listing(
    server: Server, action: str, extra: Sequence[tuple[str, str]] = ()
) -> list[AmiMessage]:
    """The item events of a list action (`EventList: start` … `…Complete`); an AMI error
    (such as `No Contacts found`) is an empty list."""
    reader, writer = await connect(server)
    try:
        messages = await login(reader, writer, server.username, server.secret, events="off")
        writer.write(encode([("Action", action), ("ActionID", "list"), *extra]))
        answer = await messages.next()
        items: list[AmiMessage] = []
        if answer.get("Response") != "Success":
            return items
        while not (item := await messages.next()).get("Event").endswith("Complete"):
            items.append(item)
        return items
    finally:
        writer.close()


async def connect(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.open_connection(server.host, server.port)
    except OSError as exc:
        where = f"{server.host}:{server.port}"
        raise ClientError(f"cannot connect to AMI at {where}: {exc.strerror or exc}") from None


async def login(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    username: str,
    secret: str,
    *,
    events: str,
) -> Messages:
    banner = await reader.readline()
    if not banner.startswith(b"Asterisk Call Manager/"):
        raise ClientError("the server did not greet as an AMI server")
    writer.write(encode(_login_fields(username, secret, events)))
    messages = Messages(reader)
    answer = await messages.next()
    if answer.get("Response") != "Success":
        raise ClientError(f"login failed: {answer.get('Message')}")
    return messages


def _login_fields(username: str, secret: str, events: str) -> list[tuple[str, str]]:
    """PJSIPNotify's results are `system` events: a session that sends it takes those."""
    return [
        ("Action", "Login"),
        ("ActionID", "login"),
        ("Username", username),
        ("Secret", secret),
        ("Events", events),
    ]


def _action(index: int, report: TargetReport, request: Request) -> bytes:
    fields = [("Action", "PJSIPNotify"), ("ActionID", str(index))]
    kinds = ["Endpoint"] * len(request.endpoints) + ["URI"] * len(request.uris)
    kind = kinds[index] if index < len(kinds) else "Channel"
    fields.append((kind, report.target))
    if request.option is not None:
        fields.append(("Option", request.option))
    fields += [("Variable", f"{name}={escape_value(value)}") for name, value in request.variables]
    return encode(fields)


def _apply(message: AmiMessage, by_id: dict[str, TargetReport], show: Show) -> None:
    report = by_id.get(message.get("ActionID"))
    if report is None:
        return
    if message.get("Response") == "Error":
        report.error = message.get("Message").strip()
        report.done = True
        show(f"{report.target}: error: {report.error}")
    elif message.get("Response") == "Success":
        report.sent = True
    elif message.get("Event") == "PJSIPNotifyResult":
        report.results.append(message)
        show(describe(report, message))
    elif message.get("Event") == "PJSIPNotifyComplete":
        report.done = True


class Messages:
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._decoder = AmiDecoder()
        self._ready: list[AmiMessage] = []

    async def next(self) -> AmiMessage:
        while not self._ready:
            data = await self._reader.read(65536)
            if not data:
                raise ClientError("the AMI server closed the connection")
            for item in self._decoder.feed(data):
                if not isinstance(item, FramingError):
                    self._ready.append(item)
        return self._ready.pop(0)


def describe(report: TargetReport, result: AmiMessage) -> str:
    """One contact's answer: `alice sip:alice@192.0.2.5 -> 200 OK (1.2 ms)`; a URI target is
    named once: `sip:x@192.0.2.9 -> timeout`."""
    status = result.get("StatusCode")
    if status:
        answer = f"{status} {result.get('ReasonPhrase')}".rstrip()
        usec = result.get("RoundtripUsec")
        if usec.isascii() and usec.isdigit():
            answer += f" ({int(usec) / 1000:.1f} ms)"
    else:
        answer = result.get("Error") or result.get("Result")
    where = result.get("URI")
    return f"{where} -> {answer}" if report.is_uri else f"{report.target} {where} -> {answer}"


def unfinished(report: TargetReport, seconds: float) -> str:
    """What to say of a target still waiting when the time is up."""
    if not report.sent:
        return f"{report.target}: no reply from the AMI server within {seconds:g} s"
    return (
        f"{report.target}: NOTIFY sent; no further result within {seconds:g} s "
        "(the phone did not answer, or the server does not report results)"
    )

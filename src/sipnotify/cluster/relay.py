"""Sending through the node that holds a contact's flow. A contact registered through another
node without a Path is reached over that node's TCP/TLS connection or from the address its
NAT binding was opened to, so the request goes to that node (`systemname` in `reg_server`)
on the channel `sipnotify_relay`; it sends the NOTIFY as its own and tells the final answer
back on the same channel, to the request that asked, which reports it as if sent here.

A node that is not running (watch.py tells) is not asked: the request goes out from here (a
UDP contact may still answer; a TCP/TLS one fails as unreachable). A request whose node stops
or does not answer within WAIT seconds (longer than a transaction's 32 s) is reported failed.

The same channel tells a node that a fleet job it runs was paused, resumed or cancelled on
another node (the new state is in the shared store; the owner acts on it).

Items on the channel (outbox.py gathers them): `["send", to, from, id, endpoint, uri, label,
flow, headers, content_type, body]` with `flow` `[protocol, host, port]` or null,
`["result", to, id, status, reason, failure_kind, failure_detail, rtt]` and
`["job", to, job_id]`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sipnotify.notify.content import NotifyContent
from sipnotify.notify.notifier import Done, Notifier
from sipnotify.notify.targets import Target
from sipnotify.sip.errors import ParseError
from sipnotify.sip.transactions.exchange import Final
from sipnotify.sip.transactions.machines import ErrorKind, Failure
from sipnotify.sip.uri import parse_uri
from sipnotify.storage.base import StorageError

log = logging.getLogger("sipnotify.cluster")
CHANNEL = "sipnotify_relay"
WAIT = 40.0  # seconds a forwarded request may take before it is reported failed


@dataclass(frozen=True, slots=True)
class Asked:
    """A request another node asked this one to send."""

    sender: str
    id: int
    endpoint: str
    uri: str
    label: str
    flow: tuple[str, tuple[str, int]] | None
    content: NotifyContent


def send_item(to: str, sender: str, id_: int, target: Target, content: NotifyContent) -> list[Any]:
    flow = target.flow
    shown = None if flow is None else [flow[0], flow[1][0], flow[1][1]]
    return ["send", to, sender, id_, target.endpoint.name, str(target.uri), target.label, shown,
            [list(h) for h in content.headers], content.content_type, content.body]  # fmt: skip


def result_item(to: str, id_: int, final: Final) -> list[Any]:
    failure = final.failure
    kind = None if failure is None else failure.kind.value
    detail = "" if failure is None else failure.detail
    return ["result", to, id_, final.status, final.reason, kind, detail, final.rtt]


def asked(item: list[Any]) -> Asked:
    """A "send" item read back. Raises ValueError, TypeError, IndexError when malformed."""
    sender, id_, endpoint, uri, label, flow, headers, content_type, body = item[2:11]
    found = None if flow is None else (str(flow[0]), (str(flow[1]), int(flow[2])))
    kind = None if content_type is None else str(content_type)
    content = NotifyContent(tuple((str(n), str(v)) for n, v in headers), kind, str(body))
    return Asked(str(sender), int(id_), str(endpoint), str(uri), str(label), found, content)


def answered(item: list[Any]) -> tuple[int, Final]:
    """A "result" item read back. Raises ValueError, TypeError, IndexError when malformed."""
    id_, status, reason, kind, detail, rtt = item[2:8]
    failure = None if kind is None else Failure(ErrorKind(kind), str(detail))
    final = Final(None if status is None else int(status), str(reason), failure,
                  None if rtt is None else float(rtt))  # fmt: skip
    return int(id_), final


def _no_job(_job_id: str) -> None:
    """No fleet jobs in the shared store."""


def _none_missed() -> None:
    """No fleet jobs in the shared store."""


def failed(detail: str, kind: ErrorKind = ErrorKind.TRANSPORT) -> Final:
    return Final(None, "", Failure(kind, detail), None)


class Out(Protocol):
    """Where items for the other nodes go (outbox.Outbox)."""

    def put(self, item: object) -> None: ...


class Relay:
    def __init__(self, outbox: Out, systemname: str, *, notifier: Notifier,
                 alive: Callable[[str], bool], job_changed: Callable[[str], None] = _no_job,
                 jobs_missed: Callable[[], None] = _none_missed,
                 wait: float = WAIT) -> None:  # fmt: skip
        """`job_changed(job_id)`: another node changed the state of a job this node runs;
        `jobs_missed()`: such changes may have been missed (the channel was not heard)."""
        self._out, self._systemname, self._job_changed = outbox, systemname, job_changed
        self._jobs_missed = jobs_missed
        self._notifier, self._alive, self._wait = notifier, alive, wait
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, float, Done]] = {}  # in deadline order
        self._timer: asyncio.TimerHandle | None = None

    def forward(self, target: Target, content: NotifyContent, done: Done) -> bool:
        """Send through `target.node` when it is another running node (Forward)."""
        node = target.node
        if node == self._systemname or not self._alive(node):
            return False
        id_ = next(self._ids)
        loop = asyncio.get_running_loop()
        self._pending[id_] = (node, loop.time() + self._wait, done)
        self._out.put(send_item(node, self._systemname, id_, target, content))
        if self._timer is None:
            self._timer = loop.call_later(self._wait, self._expire)
        return True

    def tell_job(self, node: str, job_id: str) -> None:
        """Tell `node` that the state of a job it runs changed in the store."""
        self._out.put(["job", node, job_id])

    def told(self, key: str) -> None:
        """Items another node sent on the channel: requests to send, answers to ours, jobs
        changed."""
        for item in json.loads(key):
            if not isinstance(item, list) or len(item) < 3 or item[1] != self._systemname:
                continue
            try:
                if item[0] == "send":
                    self._send(asked(item))
                elif item[0] == "result":
                    self._answered(*answered(item))
                elif item[0] == "job":
                    self._job_changed(str(item[2]))
            except (ValueError, TypeError, IndexError) as exc:
                log.error("a malformed %r from another node ignored: %s", item[0], exc)
            except StorageError as exc:
                log.error("cannot act on fleet job %s, changed by another node: %s", item[2], exc)

    def resync(self) -> None:
        """Items missed while disconnected are gone: the requests they answered expire, and
        the jobs running here act on their stored state. Raises StorageError."""
        self._jobs_missed()

    def lost(self, nodes: Iterable[str]) -> None:
        """These nodes stopped: what they were asked to send is reported failed now."""
        gone = set(nodes)
        for id_, (node, _deadline, done) in list(self._pending.items()):
            if node in gone:
                del self._pending[id_]
                done(failed(f"node {node}, which holds its connection, stopped"))

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        pending, self._pending = self._pending, {}
        for _node, _deadline, done in pending.values():
            done(failed("", ErrorKind.SHUTDOWN))

    def _send(self, request: Asked) -> None:
        def done(final: Final) -> None:
            self._out.put(result_item(request.sender, request.id, final))

        endpoint = self._notifier.config.endpoints.get(request.endpoint)
        if endpoint is None:
            done(failed(f"endpoint {request.endpoint} is not configured on {self._systemname}"))
            return
        try:
            uri = parse_uri(request.uri)
        except ParseError as exc:
            done(failed(f"{request.uri}: {exc}"))
            return
        target = Target(endpoint, uri, request.label, request.flow)  # node "": sent from here
        self._notifier.deliver(target, request.content, done)

    def _answered(self, id_: int, final: Final) -> None:
        found = self._pending.pop(id_, None)
        if found is not None:
            found[2](final)

    def _expire(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        for id_, (node, deadline, done) in list(self._pending.items()):
            if deadline > now:
                self._timer = asyncio.get_running_loop().call_later(deadline - now, self._expire)
                return
            del self._pending[id_]
            done(failed(f"no answer through node {node}", ErrorKind.TIMEOUT))

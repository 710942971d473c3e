"""The live transactions of one user agent, sans I/O: the client and server tables, one
timer heap for all of them, the flow-control window, and matching.

Shaped like a QUIC connection in aioquic: the owner feeds it messages with `now` (a response
with `receive_response` or, for the common 2xx, `receive_head`; a request with
`receive_request` or `receive_ack`), sends with `send` (non-INVITE, through the window) and
`invite`, asks `get_timer()` and calls `handle_timer(now)` when it falls due, then takes the
effects one by one with `next_event()`: bytes to send (`Send`), an exchange's final result
(`Ended`), an INVITE's responses (`InviteEvent`). It never touches a socket or a clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Final as Fixed
from typing import final

from sipnotify.sip.message import Request, Response
from sipnotify.sip.parser import peek_response, via_branch
from sipnotify.sip.transactions.exchange import Address, Exchange, Final, Link
from sipnotify.sip.transactions.machines import (
    Effect,
    ErrorKind,
    Failure,
    Input,
    InviteClient,
    InviteServer,
    Machine,
    NonInviteClient,
    NonInviteServer,
    Outcome,
    Passed,
    State,
    Timers,
    TransactionError,
    Transmit,
)
from sipnotify.sip.transactions.matching import Key, first_branch, peek_server_key, server_key
from sipnotify.sip.value import Value

# Flow control: at most this many requests may be waiting for their first response. A burst
# of NOTIFYs otherwise draws a burst of responses that overflows the socket's receive buffer,
# and the retransmissions that follow make it worse. A slot frees on the first response, or
# after T1 (over UDP: at the first retransmission, Timer E), so phones that never answer cannot
# stall the others.
WINDOW = 128


class _Entry:
    """A transaction in a table: its machine, and where its bytes go."""

    __slots__ = ("address", "alive", "key", "link", "txn")

    def __init__(self, key: Key, txn: Machine, link: Link, address: Address) -> None:
        self.key = key
        self.txn = txn
        self.link = link
        self.address = address
        self.alive = True


class _Client(_Entry):
    """A non-INVITE client transaction: its exchange, and its place in the window until
    `slot_until` or the first response."""

    __slots__ = ("exchange", "holding", "slot_until")

    def __init__(self, key: Key, txn: NonInviteClient, exchange: Exchange, slot: float) -> None:
        super().__init__(key, txn, exchange.link, exchange.address)
        self.exchange = exchange
        self.slot_until = slot
        self.holding = True


class InviteTransaction(_Entry):
    """An INVITE client transaction; `user` is what the call that sent it keeps on it."""

    __slots__ = ("invite", "user")

    def __init__(self, key: Key, txn: InviteClient, link: Link, address: Address) -> None:
        super().__init__(key, txn, link, address)
        self.invite = txn  # `txn`, as the INVITE client it is
        self.user: object = None

    @property
    def request(self) -> Request:
        return self.invite.request

    @property
    def state(self) -> State:
        return self.txn.state


class ServerTransaction(_Entry):
    """A server transaction, for the user answering its request; `user` is what the user
    keeps on it (the call's view of an INVITE, which a CANCEL looks up)."""

    __slots__ = ("request", "user")

    def __init__(self, key: Key, txn: Machine, link: Link, address: Address, request: Request):
        super().__init__(key, txn, link, address)
        self.request = request
        self.user: object = None


# The effects are made for every datagram and every result: compiled values (sip/value.py),
# not named tuples, whose constructor is an interpreted lambda.
@final
class Send(Value):
    """Bytes for `address` over `link`."""

    __match_args__ = ("link", "address", "data")

    def __init__(self, link: Link, address: Address, data: bytes) -> None:
        self.link: Fixed = link
        self.address: Fixed = address
        self.data: Fixed = data


@final
class Ended(Value):
    """An exchange's final result."""

    __match_args__ = ("exchange", "final")

    def __init__(self, exchange: Exchange, final: Final) -> None:
        self.exchange: Fixed = exchange
        self.final: Fixed = final


@final
class InviteEvent(Value):
    """A response for an INVITE sent with `invite` (`Passed`: a 1xx or a 2xx copy), or how it
    ended (`Outcome`)."""

    __match_args__ = ("invite", "effect")

    def __init__(self, invite: InviteTransaction, effect: Passed | Outcome) -> None:
        self.invite: Fixed = invite
        self.effect: Fixed = effect


@final
class Broken(Value):
    """A transaction's machine met an input its table lacks; it was terminated."""

    __match_args__ = ("error",)

    def __init__(self, error: TransactionError) -> None:
        self.error: Fixed = error


Event = Send | Ended | InviteEvent | Broken


class TransactionLayer:
    def __init__(self, timers: Timers, *, window: int = WINDOW) -> None:
        self.timers = timers
        self._window = window
        self._clients: dict[Key, _Client] = {}
        self._invites: dict[Key, InviteTransaction] = {}
        self._servers: dict[Key, _Entry] = {}  # a ServerTransaction until answered
        self._branches: dict[str, int] = {}  # the servers' branches (keys' first part): how many
        self._on_link: dict[Link, set[_Entry]] = {}  # reliable links' client transactions
        # (deadline, tie-breaker, key): keys, not entries, so a finished transaction is freed
        # at once rather than when its last deadline would have fallen due
        self._heap: list[tuple[float, int, Key]] = []
        # UDP client transactions in the order they started, for their first Timer E: every
        # one falls due T1 after its start, so they fall due in this order and need no heap
        # entry (most are answered long before). The first is always alive: a transaction
        # that ends takes the ended ones at the front with it.
        self._fresh: deque[_Client] = deque()
        self._seq = itertools.count()
        self._inflight = 0
        self._waiting: deque[Exchange] = deque()
        self._events: deque[Event] = deque()
        self.retransmissions = 0  # requests and responses sent again by a timer, ever

    # -- what the owner reads --------------------------------------------------------------

    def next_event(self) -> Event | None:
        """The next effect of what was fed in, in order; None when there is none left. Safe to
        call again while carrying one out (a result may send the next request)."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When `handle_timer` should next be called (None: nothing is timed)."""
        heap, fresh = self._heap, self._fresh
        first = fresh[0].slot_until if fresh else None
        if heap and (first is None or heap[0][0] < first):
            return heap[0][0]
        return first

    @property
    def open_servers(self) -> int:
        """Server transactions not yet ended."""
        return len(self._servers)

    @property
    def open_clients(self) -> int:
        """Client transactions not yet ended (INVITE ones included), and requests waiting
        for room in the window."""
        return len(self._clients) + len(self._invites) + len(self._waiting)

    # -- sending ---------------------------------------------------------------------------

    def send(self, exchange: Exchange, now: float) -> None:
        """Start the exchange's current request when the flow-control window has room."""
        if self._inflight >= self._window:
            self._waiting.append(exchange)
            return
        self._inflight += 1
        self._start(exchange, now)

    def _start(self, exchange: Exchange, now: float) -> None:
        request = exchange.request
        reliable = exchange.link.protocol != "udp"
        txn = NonInviteClient(request.data, reliable=reliable, now=now, timers=self.timers)
        client = _Client((request.branch, request.method), txn, exchange, now + self.timers.t1)
        self._clients[client.key] = client
        exchange.started = now
        self._watch(client)
        self._apply(client, txn.start(), now)
        fresh = self._fresh
        if not reliable and (not fresh or fresh[-1].slot_until <= client.slot_until):
            fresh.append(client)  # Timer E falls due with the slot's end
            return
        self._arm(client, txn.next_deadline())
        if reliable:  # over UDP, Timer E falls due at the slot's end
            self._arm(client, client.slot_until)

    def invite(
        self, request: Request, link: Link, address: Address, now: float
    ) -> InviteTransaction:
        """Send an INVITE (no flow-control slot: calls are few); its responses come back as
        `InviteEvent`s."""
        txn = InviteClient(request, reliable=link.protocol != "udp", now=now, timers=self.timers)
        invite = InviteTransaction((request.top_via.branch, "INVITE"), txn, link, address)
        self._invites[invite.key] = invite
        self._watch(invite)
        self._apply(invite, txn.start(), now)
        self._arm(invite, txn.next_deadline())
        return invite

    def _watch(self, entry: _Entry) -> None:
        if entry.link.protocol != "udp":
            self._on_link.setdefault(entry.link, set()).add(entry)

    # -- responses -------------------------------------------------------------------------

    def receive_head(self, data: bytes, now: float) -> bool:
        """The answer to one of our non-INVITE requests that needs no more than its status
        (the hot path: a NOTIFY's 200), matched without parsing the whole message. False for
        anything else (a challenge, an INVITE's answer, a stray, an odd message): parse it and
        call `receive_response`."""
        head = peek_response(data)
        if head is None or head.status in (401, 407):
            return False
        client = self._clients.get((head.branch, head.method))
        if client is None:
            return False
        self._deliver(client, Response(status=head.status, reason=head.reason, headers=()), now)
        return True

    def receive_response(self, response: Response, now: float) -> None:
        """RFC 3261 §17.1.3: a response belongs to the client transaction whose branch and
        method it carries (top Via, CSeq); a stray or late one is dropped."""
        key = (via_branch(response.header("Via") or ""), response.cseq.method)
        client = self._clients.get(key)
        if client is not None:
            self._deliver(client, response, now)
            return
        invite = self._invites.get(key)
        if invite is not None:
            self._step(invite, Input.of(response.status), now, response)

    def _deliver(self, client: _Client, response: Response, now: float) -> None:
        self._release(client, now)
        self._step(client, Input.of(response.status), now, response)

    # -- requests --------------------------------------------------------------------------

    def receive_retransmission(self, data: bytes, now: float) -> bool:
        """A request retransmitting one whose server transaction is live, answered (or
        absorbed) from its key alone, without parsing the message (§17.2.3; a phone's
        retransmissions are most of what an overloaded server reads). False for anything
        else: parse it and call `receive_request`."""
        branch = first_branch(data)
        if branch is None or branch not in self._branches:
            return False  # new (or not found this way: `receive_request` still matches it)
        key = peek_server_key(data)
        existing = self._servers.get(key) if key is not None else None
        if existing is None:
            return False
        self._step(existing, Input.REQUEST, now)
        return True

    def receive_request(
        self, request: Request, link: Link, address: Address, now: float
    ) -> ServerTransaction | None:
        """A request other than ACK; `address` is where its responses go. A retransmission of
        a live transaction is answered here (None); a new request gets a server transaction
        (returned) for the user to answer with `respond`."""
        key = server_key(request)
        existing = self._servers.get(key)
        if existing is not None:
            self._step(existing, Input.REQUEST, now)
            return None
        reliable = link.protocol != "udp"
        txn: Machine
        if request.method == "INVITE":
            txn = InviteServer(reliable=reliable, timers=self.timers)
        else:
            txn = NonInviteServer(reliable=reliable, timers=self.timers)
        server = ServerTransaction(key, txn, link, address, request)
        self._servers[key] = server
        branches = self._branches
        branches[key[0]] = branches.get(key[0], 0) + 1
        return server

    def receive_ack(self, request: Request, now: float) -> bool:
        """RFC 3261 §17.2.3: an ACK with the INVITE's branch acknowledges a 300-699 and belongs
        to its transaction (True); any other ACK is a 2xx's, for the call (False)."""
        server = self._servers.get(server_key(request, "INVITE"))
        if server is None or server.txn.state is not State.COMPLETED:
            return False
        self._step(server, Input.ACK, now)
        return True

    def server_for(self, request: Request, method: str) -> ServerTransaction | None:
        """The live server transaction `request` names with `method` (CANCEL: its INVITE),
        while its user may still answer it."""
        found = self._servers.get(server_key(request, method))
        return found if isinstance(found, ServerTransaction) else None

    def respond(self, server: ServerTransaction, status: int, data: bytes, now: float) -> None:
        """The user's response `data` (with `status`) to the server transaction's request."""
        if server.alive:
            self._step(server, Input.of(status), now, data)
            if server.alive and status >= 200 and isinstance(server.txn, NonInviteServer):
                self._answered(server)

    def _answered(self, server: ServerTransaction) -> None:
        """RFC 3261 §17.2.2: "The server transaction remains in this state [Completed] until
        Timer J fires, at which point it MUST transition to the "Terminated" state", and all
        it does meanwhile is to send its final response again to each retransmission. So it
        stays as that alone, without the request: over UDP Timer J is 32 s, and a registration
        storm would otherwise hold 32 s of REGISTERs, every one for the collector to walk.
        The user's handle is done with (a later response to it is ignored, as Completed
        would ignore it)."""
        server.alive = False
        self._servers[server.key] = _Entry(server.key, server.txn, server.link, server.address)

    def _forget_server(self, key: Key) -> None:
        if self._servers.pop(key, None) is None:
            return
        branches = self._branches
        left = branches[key[0]] - 1
        if left:
            branches[key[0]] = left
        else:
            del branches[key[0]]

    def respond_statelessly(self, server: ServerTransaction, data: bytes) -> None:
        """RFC 3261 §8.2.7: "The stateless UAS role is needed primarily to handle
        unauthenticated requests for which a challenge response is issued" (and refusals
        before any call exists). The response goes out once and the transaction is dropped,
        with no timer armed and nothing kept; a retransmission of the request is answered
        afresh."""
        if server.alive:
            self._events.append(Send(server.link, server.address, data))
            self._remove(server, 0.0)

    # -- failures --------------------------------------------------------------------------

    def connection_lost(self, link: Link, now: float) -> None:
        """A TCP/TLS connection closed: its client transactions fail."""
        lost = Failure(ErrorKind.TRANSPORT, "connection closed")
        for entry in list(self._on_link.pop(link, ())):
            if entry.alive:
                self._step(entry, Input.TRANSPORT_ERROR, now, lost)

    def close(self, now: float) -> None:
        """Shutting down: every request waiting or under way ends with SHUTDOWN."""
        stopped = Failure(ErrorKind.SHUTDOWN)
        while self._waiting:
            exchange = self._waiting.popleft()
            self._events.append(Ended(exchange, Final(None, "", stopped, None)))
        for client in list(self._clients.values()):
            self._remove(client, now)
            self._events.append(Ended(client.exchange, Final(None, "", stopped, None)))
        for invite in list(self._invites.values()):
            self._step(invite, Input.TRANSPORT_ERROR, now, stopped)
        self._heap.clear()
        self._fresh.clear()

    # -- time ------------------------------------------------------------------------------

    def handle_timer(self, now: float, limit: int | None = None) -> None:
        """Every deadline at or before `now`, or the first `limit` of them (the others stay
        due: `get_timer` returns a time already past)."""
        heap, fresh = self._heap, self._fresh
        left = len(heap) + len(fresh) if limit is None else limit
        while left > 0:
            entry: _Entry | None
            if (
                fresh
                and fresh[0].slot_until <= now
                and (not heap or fresh[0].slot_until <= heap[0][0])
            ):
                entry = fresh.popleft()
                self._drop_ended()
            elif heap and heap[0][0] <= now:
                _, _, key = heapq.heappop(heap)
                entry = self._clients.get(key) or self._invites.get(key) or self._servers.get(key)
            else:
                break
            left -= 1
            if entry is None:
                continue
            if isinstance(entry, _Client) and entry.holding and entry.slot_until <= now:
                self._release(entry, now)
            deadline = entry.txn.next_deadline()
            if deadline is not None and deadline <= now:
                self._step(entry, None, now)

    def _arm(self, entry: _Entry, deadline: float | None) -> None:
        if deadline is not None:
            heapq.heappush(self._heap, (deadline, next(self._seq), entry.key))

    # -- carrying out ----------------------------------------------------------------------

    def _step(self, entry: _Entry, event: Input | None, now: float, arg: object = None) -> None:
        """Feed the entry's machine (a timer when `event` is None) and carry out the effects."""
        txn = entry.txn
        try:
            effects = txn.handle_timer(now) if event is None else txn.step(event, now, arg)
        except TransactionError as exc:
            self._events.append(Broken(exc))
            effects = []
        self._apply(entry, effects, now, timer=event is None)
        if not entry.alive:
            return
        if txn.state is State.TERMINATED:
            self._remove(entry, now)
            return
        deadline = txn.next_deadline()
        if deadline is not None and deadline <= now:
            self._step(entry, None, now)
        else:
            self._arm(entry, deadline)

    def _apply(self, entry: _Entry, effects: list[Effect], now: float, *,
               timer: bool = False) -> None:  # fmt: skip
        for effect in effects:
            if isinstance(effect, Transmit):
                self.retransmissions += timer  # a timer's transmission is a retransmission
                self._events.append(Send(entry.link, entry.address, effect.data))
            elif isinstance(entry, _Client):
                if isinstance(effect, Outcome) and entry.alive:
                    self._finish(entry, effect, now)
            elif isinstance(entry, InviteTransaction):
                self._events.append(InviteEvent(entry, effect))

    def _finish(self, client: _Client, outcome: Outcome, now: float) -> None:
        """A client transaction ended: report the exchange's result, or send its next attempt
        (a challenge answered). The transaction leaves the table at once; retransmissions of
        its response are strays."""
        self._remove(client, now)
        exchange = client.exchange
        final = exchange.answer(outcome, now)
        if final is None:
            self.send(exchange, now)
        else:
            self._events.append(Ended(exchange, final))

    def _remove(self, entry: _Entry, now: float) -> None:
        if not entry.alive:
            return
        entry.alive = False
        if isinstance(entry, _Client):
            del self._clients[entry.key]
            self._release(entry, now)
            self._drop_ended()
        elif isinstance(entry, InviteTransaction):
            del self._invites[entry.key]
        else:
            self._forget_server(entry.key)
            if isinstance(entry, ServerTransaction):
                entry.user = None  # the call's view of it refers back: no cycle is left
        watched = self._on_link.get(entry.link)
        if watched is not None:
            watched.discard(entry)

    def _drop_ended(self) -> None:
        fresh = self._fresh
        while fresh and not fresh[0].alive:
            fresh.popleft()

    def _release(self, client: _Client, now: float) -> None:
        """Give the client's place in the window back (once), and start whoever waits."""
        if not client.holding:
            return
        client.holding = False
        self._inflight -= 1
        while self._waiting and self._inflight < self._window:
            self._inflight += 1
            self._start(self._waiting.popleft(), now)

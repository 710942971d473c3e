"""MWI subscriptions, sans I/O: RFC 6665's notifier side for the message-summary package
(RFC 3842), with Asterisk's rules (behaviour: MWI).

A new SUBSCRIBE (no To tag), from an endpoint already identified and authenticated as for
REGISTER, is taken when:
- its Event is `message-summary` (else 489 Bad Event);
- its Request-URI user names an AOR with `mailboxes=`, or the `voicemail_extension` of one of
  the endpoint's AORs (else 404 Not Found);
- the endpoint does not already get those mailboxes unsolicited, unless its
  `mwi_subscribe_replaces_unsolicited` says so (else 500, as Asterisk);
- its Expires is 0 (a one-off fetch), or at least the endpoint's `sub_min_expiry` (60 s when
  that is 0; else 423 with Min-Expires);
- the caps allow (sipnotify.conf [mwi]: in total and per endpoint; else 503).
The subscription is a dialog: our To tag, the SUBSCRIBE's From as the remote party, its
Contact as the remote target. It lives until its expiry (then a final NOTIFY says
`terminated;reason=timeout`), an in-dialog SUBSCRIBE with Expires 0, or a NOTIFY the
subscriber answers 481 (or never answers). Time is passed in.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass

from sipnotify.config.pjsip import Aor, Endpoint, PjsipConfig
from sipnotify.sip.dialog import Dialog, DialogId
from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request
from sipnotify.sip.responses import Reply
from sipnotify.sip.uri import SipUri, parse_name_addr, parse_uri

EVENT = "message-summary"
MIN_EXPIRES = 60  # seconds (pjsip's default minimum)
MAX_EXPIRES = 86_400
DEFAULT_EXPIRES = 3600  # RFC 3842 §6: when the SUBSCRIBE says none


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a taken SUBSCRIBE asks for."""

    aor: str
    mailboxes: tuple[str, ...]
    account: str  # Message-Account, when a voicemail_extension applies
    expires: int


@dataclass(slots=True)
class Subscription:
    dialog: Dialog
    endpoint: str
    aor: str
    mailboxes: tuple[str, ...]
    account: str
    contact: str  # ours, as the subscriber reaches us
    flow: tuple[str, tuple[str, int]] | None  # the TCP/TLS connection it came on
    expires_at: float

    @property
    def key(self) -> DialogId:
        return self.dialog.id

    def remaining(self, now: float) -> int:
        return max(0, round(self.expires_at - now))


def wanted(request: Request, endpoint: Endpoint, config: PjsipConfig) -> Wanted | Reply:
    """Whether a new SUBSCRIBE from `endpoint` may be taken, and for what."""
    event = (request.header("Event") or "").partition(";")[0].strip().lower()
    if event != EVENT:
        return Reply(489, "Bad Event", (("Allow-Events", EVENT),))
    user = parse_uri(request.uri).user or ""
    found = _resource(user, endpoint, config)
    if found is None:
        return Reply(404, "Not Found")
    aor, account_user = found
    if set(aor.mailboxes) & set(endpoint.mailboxes) and (
        not endpoint.mwi_subscribe_replaces_unsolicited
    ):
        return Reply(500, "Server Internal Error")
    expires = _expires(request)
    if expires is None:
        return Reply(400, "Bad Request")
    shortest = min_expires(endpoint)
    if 0 < expires < shortest:
        return Reply(423, "Interval Too Brief", (("Min-Expires", str(shortest)),))
    account = ""
    if account_user:
        uri = parse_uri(request.uri)
        account = str(SipUri(scheme=uri.scheme, host=uri.host, user=account_user, port=uri.port))
    return Wanted(aor.name, aor.mailboxes, account, min(expires, MAX_EXPIRES))


def min_expires(endpoint: Endpoint) -> int:
    """The endpoint's `sub_min_expiry`, or MIN_EXPIRES when it says 0."""
    return endpoint.sub_min_expiry or MIN_EXPIRES


def _resource(user: str, endpoint: Endpoint, config: PjsipConfig) -> tuple[Aor, str] | None:
    """The AOR the Request-URI names (with mailboxes), or the endpoint's AOR whose
    voicemail_extension it is; with the Message-Account user when an extension applies."""
    named = config.aors.get(user)
    if named is not None and named.mailboxes:
        return named, named.voicemail_extension
    for name in endpoint.aors:
        aor = config.aors.get(name)
        if aor is not None and aor.mailboxes and aor.voicemail_extension == user and user:
            return aor, user
    return None


def _expires(request: Request) -> int | None:
    text = (request.header("Expires") or "").strip()
    if not text:
        return DEFAULT_EXPIRES
    return int(text) if text.isdigit() and len(text) <= 10 else None


def dialog_key(request: Request) -> DialogId | None:
    """An in-dialog SUBSCRIBE's dialog: Call-ID, our tag (its To), the subscriber's (From)."""
    try:
        to_tag = parse_name_addr(request.header("To") or "").tag
        from_tag = parse_name_addr(request.header("From") or "").tag
    except ParseError:
        return None
    if not to_tag or not from_tag:
        return None
    return DialogId(request.call_id, to_tag, from_tag)


class Subscriptions:
    """The live subscriptions, capped in total and per endpoint, indexed by dialog, endpoint
    and mailbox (a change to a mailbox with 1,000 watchers finds them at once)."""

    def __init__(self, *, total: int, per_endpoint: int) -> None:
        self._total = total
        self._per_endpoint = per_endpoint
        self._live: dict[DialogId, Subscription] = {}
        self._by_endpoint: Counter[str] = Counter()
        self._by_mailbox: dict[str, dict[DialogId, Subscription]] = {}
        # (expires_at, tie-breaker, key); an entry whose subscription ended or was renewed
        # since is skipped when it comes up
        self._expiries: list[tuple[float, int, DialogId]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def all(self) -> list[Subscription]:
        return list(self._live.values())

    def find(self, key: DialogId) -> Subscription | None:
        return self._live.get(key)

    def room(self, endpoint: str) -> bool:
        """Whether one more subscription of `endpoint` fits under both caps."""
        return len(self._live) < self._total and self._by_endpoint[endpoint] < self._per_endpoint

    def add(self, subscription: Subscription) -> None:
        self._live[subscription.key] = subscription
        self._expire_at(subscription)
        self._by_endpoint[subscription.endpoint] += 1
        for mailbox in subscription.mailboxes:
            self._by_mailbox.setdefault(mailbox, {})[subscription.key] = subscription

    def remove(self, subscription: Subscription) -> bool:
        if self._live.pop(subscription.key, None) is None:
            return False
        self._by_endpoint[subscription.endpoint] -= 1
        if self._by_endpoint[subscription.endpoint] <= 0:
            del self._by_endpoint[subscription.endpoint]
        for mailbox in subscription.mailboxes:
            watchers = self._by_mailbox.get(mailbox, {})
            watchers.pop(subscription.key, None)
            if not watchers:
                self._by_mailbox.pop(mailbox, None)
        return True

    def renew(self, subscription: Subscription, expires_at: float) -> None:
        subscription.expires_at = expires_at
        self._expire_at(subscription)

    def expired(self, now: float) -> list[Subscription]:
        """The subscriptions whose time is up (they stay until removed)."""
        found = []
        while self._expiries and self._expiries[0][0] <= now:
            when, _, key = heapq.heappop(self._expiries)
            live = self._live.get(key)
            if live is not None and live.expires_at == when:
                found.append(live)
        return found

    def next_expiry(self) -> float | None:
        while self._expiries:
            when, _, key = self._expiries[0]
            live = self._live.get(key)
            if live is not None and live.expires_at == when:
                return when
            heapq.heappop(self._expiries)  # ended or renewed since
        return None

    def _expire_at(self, subscription: Subscription) -> None:
        entry = (subscription.expires_at, next(self._seq), subscription.key)
        heapq.heappush(self._expiries, entry)

    def of_mailbox(self, mailbox: str) -> list[Subscription]:
        return list(self._by_mailbox.get(mailbox, {}).values())

    def covers(self, endpoint: str, mailbox: str) -> bool:
        """Whether a live subscription of `endpoint` carries `mailbox` (then its unsolicited
        MWI waits, with mwi_subscribe_replaces_unsolicited)."""
        return any(s.endpoint == endpoint for s in self._by_mailbox.get(mailbox, {}).values())

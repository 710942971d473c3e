"""The registrar: who sent a REGISTER, whether they proved it, which AOR, and the answer.

Owns endpoint identification, for calls too (identify sections by source address, the From
user, the Authorization username, in that order, as each endpoint's `identify_by` allows), digest
authentication with the endpoint's `auth` (stateless nonces that age out after
`nonce_lifetime`, answered `stale=true`), the AOR from the To user (404 when the endpoint has no
such AOR, so nobody registers for another user's AOR), and storing the decision durably before
the 200 OK (500 when the store fails, 503 with Retry-After while it cannot be reached; nothing
changed either way). An unknown user is challenged like a known one, then refused with 403,
so users cannot be enumerated.

The 200s of a loop turn are stored together (registrar/commits.py); one is stored alone here
when that fails, decided again when other nodes filled its AOR meanwhile.
"""

from __future__ import annotations

import enum
import functools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Final, final

from sipnotify.config.pjsip import Endpoint, PjsipConfig
from sipnotify.registrar.commits import (
    UNAVAILABLE,
    Answer,
    Asked,
    GroupCommit,
    Offload,
    Soon,
    Waiting,
    inline,
)
from sipnotify.registrar.registry import Change, Registry
from sipnotify.sip import auth
from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request
from sipnotify.sip.registrar import Binding, Decision, Policy, Source, register
from sipnotify.sip.responses import Reply
from sipnotify.sip.uri import parse_name_addr
from sipnotify.sip.value import Value
from sipnotify.storage.base import Crowded, StorageError, StoreUnavailable

log = logging.getLogger("sipnotify.registrar")


class Security(enum.Enum):
    """The security events of a REGISTER's authentication (Asterisk's names)."""

    CHALLENGE_SENT = "ChallengeSent"
    SUCCESSFUL_AUTH = "SuccessfulAuth"
    CHALLENGE_RESPONSE_FAILED = "ChallengeResponseFailed"


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    kind: Security
    account: str  # the endpoint, else the From user
    call_id: str
    source: Source
    challenge: str = ""  # the nonce answered, for a failed response
    response: str = ""  # the digest given, for a failed response


SecurityListener = Callable[[SecurityEvent], None]


def always() -> bool:
    """Every security event is wanted (a listener that keeps them all)."""
    return True


@final
class ContactChange(Value):
    """A registered contact came, was refreshed or went; `remaining` counts the contacts the
    endpoint still has in all its AORs (static ones too), `qualified` whether its AOR is
    qualified (both shape the AMI events); `local` whether this node made the change (else
    another node sharing the database did, and this one learned of it)."""

    __match_args__ = ("binding", "change", "remaining", "qualified", "local")

    def __init__(
        self, binding: Binding, change: Change, remaining: int, qualified: bool,
        local: bool = True,
    ) -> None:  # fmt: skip
        self.binding: Final = binding
        self.change: Final = change
        self.remaining: Final = remaining
        self.qualified: Final = qualified
        self.local: Final = local


ContactListener = Callable[[ContactChange], None]


class Registrar:
    def __init__(
        self, config: PjsipConfig, registry: Registry, *, security: SecurityListener,
        contacts: ContactListener, soon: Soon, offload: Offload = inline,
        systemname: str = "", nonce_key: bytes | None = None,
        security_wanted: Callable[[], bool] = always,
    ) -> None:  # fmt: skip
        """`nonce_key` signs the digest nonces: shared by nodes that share contacts, so a
        challenge from one node may be answered to another (a fresh one per process else).
        `soon` runs the group commit when the loop turn ends (loop.call_soon); `offload` runs
        the store's part of it (commits.py). A security event is built only when
        `security_wanted()` (each REGISTER has one or two; nobody may be listening)."""
        self._config = config
        self._commits = GroupCommit(
            registry, soon=soon, offload=offload, decide=self._decide_asked,
            alone=self._store_alone, tell=self._teller, limit=self._limit,
        )  # fmt: skip
        self._systemname = systemname
        self._registry = registry
        self._secret = nonce_key or secrets.token_bytes(16)
        self._challenged: tuple[tuple[str, int, bool], Reply] | None = None  # the last 401
        self._security = security
        self._security_wanted = security_wanted
        self._contacts = contacts

    def bindings(self, aor: str, now: float) -> list[Binding]:
        """The unexpired registered contacts of `aor`."""
        return self._registry.bindings(aor, now)

    def prune(self, now: float) -> int:
        """Forget expired registrations, telling of each; returns how many the store held."""
        self._commits.commit()
        return self._registry.prune(now, lambda b, change: self._changed(b, change, now))

    def aors(self) -> list[str]:
        """The AORs with contacts in memory (expired ones included)."""
        return [aor for aor, _ in self._registry.grouped()]

    def refresh(self, aor: str, stored: list[Binding], now: float) -> None:
        """Another node changed `aor`'s contacts: take `stored`, as the database now holds
        them, telling of each difference."""

        def tell(binding: Binding, change: Change) -> None:
            self._changed(binding, change, now, local=False)

        self._registry.replace(aor, stored, tell)

    def _changed(self, binding: Binding, change: Change, now: float, *, local: bool = True) -> None:
        """One change, as the registry stands right after it."""
        config = self._config
        endpoint = config.endpoints.get(binding.endpoint)
        names = endpoint.aors if endpoint is not None else ()
        aors = [config.aors[name] for name in names if name in config.aors]
        remaining = sum(len(a.contacts) + len(self.bindings(a.name, now)) for a in aors)
        aor = config.aors.get(binding.aor)
        qualified = aor is not None and aor.qualify_frequency > 0
        self._contacts(ContactChange(binding, change, remaining, qualified, local))

    def reconfigure(self, config: PjsipConfig) -> None:
        """Endpoints, AORs, auths and identifies after a reload; bindings stay."""
        self._config = config

    def force_rport(self, request: Request, address: str) -> bool:
        """Whether responses go to the source port even without `;rport` (the identified
        endpoint's `force_rport`; yes for anyone unidentified, Asterisk's default)."""
        endpoint = self._identify(request, address)
        return endpoint is None or endpoint.force_rport

    def admit(self, request: Request, address: str, now: float,
              source: Source | None = None) -> Endpoint | Reply:  # fmt: skip
        """Who sent a request other than REGISTER (an INVITE, a SUBSCRIBE), proven as for
        REGISTER: the endpoint, or the 401 (or 403) to answer. With `source`, the security
        events are told, as for REGISTER."""
        endpoint = self._identify(request, address)
        challenge = self._authenticate(request, endpoint, int(now), source)
        if challenge is not None:
            return challenge
        assert endpoint is not None  # _authenticate refuses unknown callers
        return endpoint

    def handle(self, request: Request, source: Source, now: float, answer: Answer) -> None:
        """Answer a REGISTER: at once, or (a 200 that changes the store) when the loop turn's
        registrations have been committed together. Raises what a bad request raises
        (ParseError), before answering."""
        endpoint = self._identify(request, source.address)
        challenge = self._authenticate(request, endpoint, int(now), source)
        if challenge is not None:
            answer(challenge)
            return
        assert endpoint is not None  # _authenticate refuses unknown callers
        try:
            aor_name = parse_name_addr(request.header("To") or "").uri.user or ""
        except ParseError:
            answer(Reply(400, "Bad Request"))
            return
        if aor_name not in endpoint.aors or aor_name not in self._config.aors:
            answer(Reply(404, "Not Found"))
            return
        self._commits.ask(Asked(request, endpoint, aor_name, source, now, answer))

    def commit(self) -> None:
        """Send the registrations waiting to the store now (at shutdown)."""
        self._commits.commit()

    def _decide_asked(self, asked: Asked) -> Decision:
        return self._decide(asked.request, asked.endpoint, asked.aor, asked.source, asked.now)

    def _teller(self, now: float) -> Callable[[Binding, Change], None]:
        return lambda binding, change: self._changed(binding, change, now)

    def _store_alone(self, waiting: Waiting) -> Reply:
        """One registration stored in its own transaction; decided again with the other
        nodes' latest when they filled the AOR meanwhile (Crowded)."""
        aor, now = waiting.asked.aor, waiting.asked.now
        try:
            try:
                decision = self._store(waiting.decision, aor, now)
            except Crowded as crowded:  # decided again with the other nodes' latest
                self.refresh(aor, crowded.stored, now)
                decision = self._store(self._decide_asked(waiting.asked), aor, now)
        except StoreUnavailable as exc:  # RFC 3261 §21.5.4: temporary, with Retry-After
            log.error("cannot store the registration of %s: %s", aor, exc)
            return UNAVAILABLE
        except StorageError as exc:  # a second Crowded too: another node keeps winning
            log.error("cannot store the registration of %s: %s", aor, exc)
            retry = isinstance(exc, Crowded)
            return Reply(503, "Service Unavailable", (("Retry-After", "1"),)) if retry else (
                Reply(500, "Server Internal Error"))  # fmt: skip
        return Reply(decision.status, decision.reason, decision.headers)

    def _store(self, decision: Decision, aor: str, now: float) -> Decision:
        """The decision stored when it is a 200. Raises StorageError (Crowded when other
        nodes added contacts meanwhile), nothing stored."""
        if decision.status == 200:
            self._registry.apply(decision, self._teller(now), limit=self._limit(aor), now=now)
        return decision

    def _limit(self, name: str) -> int:
        aor = self._config.aors.get(name)  # gone when a reload removed it meanwhile
        return aor.max_contacts if aor is not None else 0

    def _decide(
        self, request: Request, endpoint: Endpoint, aor_name: str, source: Source, now: float
    ) -> Decision:
        aor = self._config.aors[aor_name]
        policy = Policy(
            max_contacts=aor.max_contacts,
            remove_existing=aor.remove_existing,
            minimum_expiration=aor.minimum_expiration,
            maximum_expiration=aor.maximum_expiration,
            default_expiration=aor.default_expiration,
            support_path=aor.support_path,
            rewrite_contact=endpoint.rewrite_contact,
        )
        existing = self._registry.bindings(aor_name, now)
        decision = register(request, aor=aor_name, endpoint=endpoint.name, policy=policy,
                            existing=existing, source=source, now=now)  # fmt: skip
        if decision.status == 200 and self._systemname:
            stamped = tuple(b.on_node(self._systemname) for b in decision.store)
            decision = Decision(decision.status, decision.reason, decision.headers, stamped,
                                decision.drop)  # fmt: skip
        return decision

    def _identify(self, request: Request, address: str) -> Endpoint | None:
        endpoints = self._config.endpoints
        ip = _address(address) if self._config.identifies else None
        if ip is not None:
            for identify in self._config.identifies.values():
                if identify.endpoint in endpoints and _within(ip, identify.match):
                    candidate = endpoints[identify.endpoint]
                    if "ip" in candidate.identify_by:
                        return candidate
        try:
            user = parse_name_addr(request.header("From") or "").uri.user
        except ParseError:
            user = None
        named = endpoints.get(user or "")
        if named is not None and "username" in named.identify_by:
            return named
        return self._by_auth_username(request)

    def _by_auth_username(self, request: Request) -> Endpoint | None:
        value = request.header("Authorization")
        if value is None:
            return None
        try:
            username = auth.parse_answer(value).username
        except ParseError:
            return None
        for endpoint in self._config.endpoints.values():
            if "auth_username" in endpoint.identify_by and any(
                self._config.auths[name].username == username for name in endpoint.auth
            ):
                return endpoint
        return None

    def _authenticate(
        self, request: Request, endpoint: Endpoint | None, now: int, source: Source | None = None
    ) -> Reply | None:
        """None when the request may proceed; else the 401 (or 403) to send. With `source`
        (a REGISTER), the security listener hears each challenge, success and failure."""

        def tell(kind: Security, answer: auth.Authorization | None = None) -> None:
            if source is not None and self._security_wanted():
                self._tell(kind, request, endpoint, source, answer)

        if endpoint is not None and not endpoint.auth:
            return None
        realm = self._realm(endpoint)
        value = request.header("Authorization")
        if value is None:
            tell(Security.CHALLENGE_SENT)
            return self._challenge(realm, now, stale=False)
        if endpoint is None:
            return Reply(403, "Forbidden")
        try:
            answer = auth.parse_answer(value)
        except ParseError:
            return Reply(400, "Bad Request")
        age = auth.nonce_age(answer.nonce, self._secret, now)
        if age is None or not self._proves(answer, endpoint, request.method):
            tell(Security.CHALLENGE_SENT)
            tell(Security.CHALLENGE_RESPONSE_FAILED, answer)
            return self._challenge(realm, now, stale=False)
        lifetime = min(self._config.auths[name].nonce_lifetime for name in endpoint.auth)
        if age > lifetime:
            tell(Security.CHALLENGE_SENT)
            return self._challenge(realm, now, stale=True)
        tell(Security.SUCCESSFUL_AUTH)
        return None

    def _tell(
        self,
        kind: Security,
        request: Request,
        endpoint: Endpoint | None,
        source: Source,
        answer: auth.Authorization | None,
    ) -> None:
        if endpoint is not None:
            account = endpoint.name
        else:
            try:
                account = parse_name_addr(request.header("From") or "").uri.user or ""
            except ParseError:
                account = ""
        self._security(SecurityEvent(kind, account, request.call_id, source,
                                     answer.nonce if answer else "",
                                     answer.response if answer else ""))  # fmt: skip

    def _proves(self, answer: auth.Authorization, endpoint: Endpoint, method: str) -> bool:
        for name in endpoint.auth:
            section = self._config.auths[name]
            if section.username != answer.username:
                continue
            md5 = section.md5_cred if section.auth_type == "md5" and section.md5_cred else None
            credentials = auth.Credentials(section.username, section.password, md5_ha1=md5)
            if auth.verify(answer, credentials, method):
                return True
        return False

    def _realm(self, endpoint: Endpoint | None) -> str:
        if endpoint is not None:
            for name in endpoint.auth:
                if self._config.auths[name].realm:
                    return self._config.auths[name].realm
        return self._config.global_.default_realm

    def _challenge(self, realm: str, now: int, *, stale: bool) -> Reply:
        """The 401. Its nonce signs the second it was made in, so every challenge of one second
        and realm is the same: made once and given again."""
        asked = (realm, now, stale)
        last = self._challenged
        if last is not None and last[0] == asked:
            return last[1]
        nonce = auth.make_nonce(now, self._secret)
        value = auth.challenge_value(realm, nonce, stale=stale)
        reply = Reply(401, "Unauthorized", (("WWW-Authenticate", value),))
        self._challenged = (asked, reply)
        return reply


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None


def _within(ip: IPv4Address | IPv6Address, networks: tuple[str, ...]) -> bool:
    return any(ip in net for net in _parsed(networks) if net.version == ip.version)


@functools.lru_cache(maxsize=1024)
def _parsed(networks: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    """An identify's `match=` networks, parsed once rather than for every request (each parse
    costs microseconds, and a REGISTER is checked against every identify section)."""
    return tuple(ip_network(text) for text in networks)

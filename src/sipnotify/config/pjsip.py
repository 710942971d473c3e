"""pjsip.conf as a typed, frozen model (behaviour: pjsip.conf): global, system, transport, endpoint,
aor and auth objects.

Owns Asterisk's sorcery rules as they matter here: every section needs `type=`, several
sections may share a name when their types differ, templates are not objects, a later value
of a single-valued option wins while list options (`contact=`) accumulate. Options Asterisk
knows but sipnotify does not use are accepted silently; unknown options are warnings with
file:line; invalid values are ConfigErrors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from ipaddress import ip_network
from typing import Any

from sipnotify import __version__
from sipnotify.config import values
from sipnotify.config.parser import (
    Concern,
    ConfigError,
    Diagnostic,
    Item,
    Origin,
    ParsedConfig,
    Section,
)
from sipnotify.sip.errors import ParseError
from sipnotify.sip.uri import parse_uri

PROTOCOLS = ("udp", "tcp", "tls")
NOWHERE = Origin("", 0)  # for objects built in code rather than read from a file
TLS_METHODS = ("unspecified", "default", "tlsv1", "tlsv1_1", "tlsv1_2", "tlsv1_3", "sslv23")


@dataclass(frozen=True, slots=True)
class Transport:
    name: str
    protocol: str = "udp"
    host: str = "0.0.0.0"
    port: int = 5060
    cert_file: str = ""
    priv_key_file: str = ""
    ca_list_file: str = ""
    verify_server: bool = False
    verify_client: bool = False  # verify a client's certificate when it presents one
    require_client_cert: bool = False  # refuse a client without a valid certificate
    method: str = "unspecified"
    origin: Origin = NOWHERE
    # options Asterisk has and sipnotify accepts without acting on them, as written, in
    # order (the show actions report them)
    accepted: tuple[tuple[str, str], ...] = ()

    @property
    def bind(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    aors: tuple[str, ...] = ()
    auth: tuple[str, ...] = ()
    outbound_auth: tuple[str, ...] = ()
    from_user: str = ""
    from_domain: str = ""
    contact_user: str = ""
    transport: str = ""
    outbound_proxy: str = ""
    user_eq_phone: bool = False
    context: str = "default"
    rewrite_contact: bool = False
    force_rport: bool = True
    rtp_timeout: int = 0
    identify_by: tuple[str, ...] = ("username", "ip")
    origin: Origin = NOWHERE
    # options Asterisk has and sipnotify keeps as written, in order (the show actions report
    # them); the MWI ones are read through the properties below
    accepted: tuple[tuple[str, str], ...] = ()

    @property
    def mailboxes(self) -> tuple[str, ...]:
        """Mailboxes whose changes this endpoint's contacts get unsolicited."""
        return _mailboxes(_last(self.accepted, "mailboxes"))

    @property
    def aggregate_mwi(self) -> bool:
        return _last(self.accepted, "aggregate_mwi", "yes").lower() in values.TRUE_WORDS

    @property
    def mwi_subscribe_replaces_unsolicited(self) -> bool:
        found = _last(self.accepted, "mwi_subscribe_replaces_unsolicited", "no")
        return found.lower() in values.TRUE_WORDS

    @property
    def mwi_from_user(self) -> str:
        return _last(self.accepted, "mwi_from_user")

    @property
    def voicemail_extension(self) -> str:
        return _last(self.accepted, "voicemail_extension")

    @property
    def sub_min_expiry(self) -> int:
        """The shortest subscription this endpoint may ask for (0: the default)."""
        found = _last(self.accepted, "sub_min_expiry", "0")
        return int(found) if found.isdigit() else 0


@dataclass(frozen=True, slots=True)
class Aor:
    name: str
    contacts: tuple[str, ...] = ()
    max_contacts: int = 0
    remove_existing: bool = False
    minimum_expiration: int = 60
    maximum_expiration: int = 7200
    default_expiration: int = 3600
    qualify_frequency: int = 0
    support_path: bool = False
    origin: Origin = NOWHERE
    # options Asterisk has and sipnotify keeps as written, in order (the show actions report
    # them); the MWI ones are read through the properties below
    accepted: tuple[tuple[str, str], ...] = ()

    @property
    def mailboxes(self) -> tuple[str, ...]:
        """Mailboxes an endpoint may SUBSCRIBE to through this AOR."""
        return _mailboxes(_last(self.accepted, "mailboxes"))

    @property
    def voicemail_extension(self) -> str:
        return _last(self.accepted, "voicemail_extension")


@dataclass(frozen=True, slots=True)
class Identify:
    """`type=identify`: requests from these networks belong to `endpoint`."""

    name: str
    endpoint: str = ""
    match: tuple[str, ...] = ()
    origin: Origin = NOWHERE
    # options Asterisk has and sipnotify accepts without acting on them, as written, in
    # order (the show actions report them)
    accepted: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Auth:
    name: str
    auth_type: str = "userpass"
    username: str = ""
    password: str = ""
    md5_cred: str = ""
    realm: str = ""
    nonce_lifetime: int = 32
    # options Asterisk has and sipnotify accepts without acting on them, as written, in
    # order (the show actions report them)
    accepted: tuple[tuple[str, str], ...] = ()
    origin: Origin = NOWHERE


@dataclass(frozen=True, slots=True)
class PjsipGlobal:
    default_outbound_endpoint: str = "default_outbound_endpoint"
    default_from_user: str = "asterisk"  # From user of calls without a caller
    user_agent: str = f"sipnotify {__version__}"
    max_forwards: int = 70
    default_realm: str = "asterisk"


@dataclass(frozen=True, slots=True)
class PjsipSystem:
    """`type=system` timers, in milliseconds (behaviour: system timers): T1, the round-trip
    estimate, and Timer B, every transaction's timeout (never below 64 * T1)."""

    timer_t1: int = 500
    timer_b: int = 32000


@dataclass(frozen=True, slots=True)
class PjsipConfig:
    global_: PjsipGlobal = PjsipGlobal()
    system: PjsipSystem = PjsipSystem()
    transports: Mapping[str, Transport] = field(default_factory=dict)
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    aors: Mapping[str, Aor] = field(default_factory=dict)
    auths: Mapping[str, Auth] = field(default_factory=dict)
    identifies: Mapping[str, Identify] = field(default_factory=dict)


def _last(accepted: tuple[tuple[str, str], ...], key: str, default: str = "") -> str:
    return next((value for name, value in reversed(accepted) if name == key), default).strip()


def _mailboxes(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _names(item: Item) -> tuple[str, ...]:
    return tuple(n.strip() for n in item.value.split(",") if n.strip())


def _text(item: Item) -> str:
    return item.value


def _contacts(item: Item) -> tuple[str, ...]:
    for contact in _names(item):
        _check_uri(item, contact)
    return _names(item)


def _check_uri(item: Item, text: str) -> None:
    try:
        parse_uri(text.strip().removeprefix("<").removesuffix(">"))
    except ParseError as exc:
        raise ConfigError(item.origin, f"{item.key}: {exc.reason}") from None


def _uri_or_empty(item: Item) -> str:
    if item.value:
        _check_uri(item, item.value)
    return item.value


def _protocol(item: Item) -> str:
    protocol = item.value.lower()
    if protocol not in PROTOCOLS:
        raise ConfigError(
            item.origin, f"protocol = '{item.value}' is not supported (udp, tcp or tls)"
        )
    return protocol


def _method(item: Item) -> str:
    method = item.value.lower()
    if method not in TLS_METHODS:
        raise ConfigError(item.origin, f"method = '{item.value}' is not a TLS method")
    return method


def _positive(item: Item) -> int:
    return values.integer(item, low=1)


def _count(item: Item) -> int:
    return values.integer(item, low=0)


def _max_forwards(item: Item) -> int:
    return values.integer(item, low=1, high=255)


def _timer(item: Item) -> int:
    return values.integer(item, low=100)


def _qualify(item: Item) -> int:
    return values.integer(item, low=0, high=86400)


def _identify_by(item: Item) -> tuple[str, ...]:
    methods = tuple(m.lower() for m in _names(item))
    for method in methods:
        if method not in ("username", "auth_username", "ip", "header", "request_uri"):
            raise ConfigError(item.origin, f"identify_by: '{method}' is not a method")
    return methods


def _networks(item: Item) -> tuple[str, ...]:
    """`match=` addresses or networks (address/prefix or address/netmask)."""
    found = []
    for text in _names(item):
        try:
            found.append(str(ip_network(text, strict=False)))
        except ValueError:
            raise ConfigError(
                item.origin, f"match: '{text}' is not an address or network"
            ) from None
    return tuple(found)


def _auth_type(item: Item) -> str:
    kind = item.value.lower()
    if kind not in ("userpass", "md5", "digest"):
        raise ConfigError(item.origin, f"auth_type = '{item.value}' is not supported")
    return kind


Reader = Callable[[Item], Any]

# type -> option -> (field name, reader); options Asterisk has but sipnotify ignores map to None.
_OPTIONS: dict[str, dict[str, tuple[str, Reader] | None]] = {
    "transport": {
        "protocol": ("protocol", _protocol),
        "bind": ("bind", _text),
        "cert_file": ("cert_file", _text),
        "priv_key_file": ("priv_key_file", _text),
        "ca_list_file": ("ca_list_file", _text),
        "verify_server": ("verify_server", values.boolean),
        "verify_client": ("verify_client", values.boolean),
        "require_client_cert": ("require_client_cert", values.boolean),
        "method": ("method", _method),
    },
    "endpoint": {
        "aors": ("aors", _names),
        "auth": ("auth", _names),
        "outbound_auth": ("outbound_auth", _names),
        "from_user": ("from_user", _text),
        "from_domain": ("from_domain", _text),
        "contact_user": ("contact_user", _text),
        "transport": ("transport", _text),
        "outbound_proxy": ("outbound_proxy", _uri_or_empty),
        "user_eq_phone": ("user_eq_phone", values.boolean),
        "context": ("context", _text),
        "rewrite_contact": ("rewrite_contact", values.boolean),
        "force_rport": ("force_rport", values.boolean),
        "identify_by": ("identify_by", _identify_by),
        "rtp_timeout": ("rtp_timeout", _count),
    },
    "aor": {
        "contact": ("contacts", _contacts),
        "max_contacts": ("max_contacts", _count),
        "remove_existing": ("remove_existing", values.boolean),
        "minimum_expiration": ("minimum_expiration", _count),
        "maximum_expiration": ("maximum_expiration", _count),
        "default_expiration": ("default_expiration", _count),
        "qualify_frequency": ("qualify_frequency", _qualify),
        "support_path": ("support_path", values.boolean),
    },
    "identify": {
        "endpoint": ("endpoint", _text),
        "match": ("match", _networks),
    },
    "auth": {
        "auth_type": ("auth_type", _auth_type),
        "username": ("username", _text),
        "password": ("password", _text),
        "md5_cred": ("md5_cred", _text),
        "realm": ("realm", _text),
        "nonce_lifetime": ("nonce_lifetime", _positive),
    },
    "global": {
        "default_outbound_endpoint": ("default_outbound_endpoint", _text),
        "default_from_user": ("default_from_user", _text),
        "user_agent": ("user_agent", _text),
        "max_forwards": ("max_forwards", _max_forwards),
        "default_realm": ("default_realm", _text),
    },
    "system": {
        "timer_t1": ("timer_t1", _timer),
        "timer_b": ("timer_b", _timer),
    },
}
_KEEPS_ACCEPTED = frozenset(("transport", "endpoint", "aor", "identify", "auth"))
# Options kept as written (the show actions report them) that MWI acts on: no warning, and
# the yes/no ones are checked here.
_MWI_OPTIONS: dict[str, dict[str, Reader | None]] = {
    "endpoint": {"mailboxes": None, "aggregate_mwi": values.boolean,
                 "mwi_subscribe_replaces_unsolicited": values.boolean, "mwi_from_user": None,
                 "voicemail_extension": None,
                 "sub_min_expiry": lambda item: values.integer(item, low=0)},
    "aor": {"mailboxes": None, "voicemail_extension": None},
}  # fmt: skip
_ACCUMULATE = frozenset({("aor", "contact"), ("identify", "match")})
_IGNORED = {
    "transport": "async_operations ca_list_path cipher domain external_media_address "
    "external_signaling_address external_signaling_port local_net password "
    "tos cos allow_reload symmetric_transport websocket_write_timeout "
    "tcp_keepalive_enable tcp_keepalive_idle_time tcp_keepalive_interval_time "
    "tcp_keepalive_probe_count allow_wildcard_certs",
    "endpoint": "allow disallow direct_media mailboxes mwi_subscribe_replaces_unsolicited "
    "mwi_from_user voicemail_extension "
    "dtmf_mode 100rel timers timers_min_se timers_sess_expires rtp_symmetric ice_support "
    "callerid callerid_privacy media_encryption send_pai send_rpid trust_id_inbound "
    "trust_id_outbound language moh_suggest sub_min_expiry subscribe_context "
    "allow_subscribe tos_audio cos_audio device_state_busy_at webrtc "
    "accountcode message_context set_var direct_media_method connected_line_method "
    "aggregate_mwi inband_progress call_group pickup_group named_call_group "
    "named_pickup_group t38_udptl fax_detect codec_prefs_offer_pjsip",
    "aor": "remove_unavailable qualify_timeout qualify_2xx_only "
    "authenticate_qualify outbound_proxy mailboxes voicemail_extension",
    "identify": "srv_lookups match_header match_request_uri",
    "auth": "supported_algorithms_uac supported_algorithms_uas "
    "password_digest oauth_clientid oauth_secret refresh_token",
    "global": "debug keep_alive_interval contact_expiration_check_interval "
    "disable_multi_domain endpoint_identifier_order default_voicemail_extension "
    "unidentified_request_count unidentified_request_period unidentified_request_prune_interval "
    "max_initial_qualify_time regcontext mwi_tps_queue_high mwi_tps_queue_low "
    "mwi_disable_initial_unsolicited ignore_uri_user_options use_callerid_contact "
    "send_contact_status_on_update_registration taskprocessor_overload_trigger norefersub "
    "allow_sending_180_after_183 all_codecs_on_empty_reinvite",
    "system": "timer_t2 timer_t4 compact_headers threadpool_initial_size "
    "threadpool_auto_increment threadpool_idle_timeout threadpool_max_size "
    "disable_tcp_switch follow_early_media_fork accept_multiple_sdp_answers "
    "disable_rport",
}
_IGNORED_TYPES = frozenset(
    (
        "registration",
        "domain_alias",
        "contact",
        "acl",
        "phoneprov",
        "outbound-publish",
        "inbound-publication",
        "asterisk-publication",
        "resource_list",
    )
)


def load_pjsip(parsed: ParsedConfig) -> tuple[PjsipConfig, list[Diagnostic]]:
    """Build the model from pjsip.conf sections; returns it with its warnings."""
    warnings: list[Diagnostic] = []
    found: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in _OPTIONS}
    for section in parsed.objects():
        kind = _type_of(section, warnings)
        if kind is None:
            continue
        fields = _fields(section, kind, warnings)
        fields["origin"] = section.origin
        found[kind].setdefault(section.name, {}).update(fields)
    config = PjsipConfig(
        global_=PjsipGlobal(**_single(found["global"])),
        system=_system(found["system"], warnings),
        transports={n: _transport(n, f) for n, f in found["transport"].items()},
        endpoints={n: Endpoint(name=n, **f) for n, f in found["endpoint"].items()},
        aors={n: Aor(name=n, **f) for n, f in found["aor"].items()},
        auths={n: Auth(name=n, **f) for n, f in found["auth"].items()},
        identifies={n: Identify(name=n, **f) for n, f in found["identify"].items()},
    )
    _check_references(config, warnings)
    return config, warnings


def _type_of(section: Section, warnings: list[Diagnostic]) -> str | None:
    item = section.first("type")
    if item is None:
        warnings.append(
            Diagnostic(section.origin, f"section [{section.name}] has no type=; ignored")
        )
        return None
    kind = item.value.lower()
    if kind in _OPTIONS:
        return kind
    if kind not in _IGNORED_TYPES:
        warnings.append(Diagnostic(item.origin, f"unknown type '{item.value}'; section ignored"))
    return None


def _fields(section: Section, kind: str, warnings: list[Diagnostic]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    known = _OPTIONS[kind]
    ignored = set(_IGNORED[kind].split())
    for item in section.items:
        key = item.key.lower()
        if key == "type":
            continue
        option = known.get(key)
        if option is None:
            if key in ignored:
                mwi = _MWI_OPTIONS.get(kind, {})
                if key in mwi:
                    check = mwi[key]
                    if check is not None:
                        check(item)
                else:
                    text = f"'{item.key}' is accepted but has no effect in sipnotify"
                    warnings.append(Diagnostic(item.origin, text, Concern.NO_EFFECT))
                if kind in _KEEPS_ACCEPTED:
                    fields["accepted"] = (*fields.get("accepted", ()), (key, item.value))
            else:
                text = f"unknown option '{item.key}' for {kind} '{section.name}'"
                warnings.append(Diagnostic(item.origin, text))
            continue
        name, reader = option
        value = reader(item)
        if (kind, key) in _ACCUMULATE:
            value = fields.get(name, ()) + value
        fields[name] = value
    return fields


def _system(sections: dict[str, dict[str, Any]], warnings: list[Diagnostic]) -> PjsipSystem:
    """behaviour: system timers: a Timer B below 64 * T1 is raised to it, with a warning."""
    system = PjsipSystem(**_single(sections))
    floor = 64 * system.timer_t1
    if system.timer_b < floor:
        origin = next(iter(sections.values()))["origin"]
        warnings.append(Diagnostic(origin, f"Timer B setting is too low. Setting to {floor}"))
        system = replace(system, timer_b=floor)
    return system


def _single(sections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`global` and `system` are singletons: every such section adds to the one object."""
    merged: dict[str, Any] = {}
    for fields in sections.values():
        merged.update(fields)
    merged.pop("origin", None)
    return merged


def _transport(name: str, fields: dict[str, Any]) -> Transport:
    bind = fields.pop("bind", "")
    protocol = fields.get("protocol", "udp")
    origin: Origin = fields["origin"]
    host, port = _bind(bind, 5061 if protocol == "tls" else 5060, origin)
    return Transport(name=name, host=host, port=port, **fields)


def _bind(text: str, default_port: int, origin: Origin) -> tuple[str, int]:
    if not text:
        return "0.0.0.0", default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") > 1:
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    item = Item(key="bind", value=host, origin=origin)
    host = values.address(item)
    if not port_text:
        return host, default_port
    return host, values.integer(
        Item(key="bind port", value=port_text, origin=origin), low=0, high=65535
    )


def _check_references(config: PjsipConfig, warnings: list[Diagnostic]) -> None:
    for endpoint in config.endpoints.values():
        if endpoint.transport and endpoint.transport not in config.transports:
            raise ConfigError(
                endpoint.origin,
                f"endpoint '{endpoint.name}': transport '{endpoint.transport}' does not exist",
            )
        for name in endpoint.outbound_auth:
            if name not in config.auths:
                raise ConfigError(
                    endpoint.origin,
                    f"endpoint '{endpoint.name}': outbound_auth '{name}' does not exist",
                )
        for name in endpoint.aors:
            if name not in config.aors:
                warnings.append(
                    Diagnostic(
                        endpoint.origin, f"endpoint '{endpoint.name}': AOR '{name}' does not exist"
                    )
                )
    for identify in config.identifies.values():
        if identify.endpoint not in config.endpoints:
            raise ConfigError(
                identify.origin,
                f"identify '{identify.name}': endpoint '{identify.endpoint}' does not exist",
            )
    for endpoint in config.endpoints.values():
        for name in endpoint.auth:
            if name not in config.auths:
                raise ConfigError(
                    endpoint.origin, f"endpoint '{endpoint.name}': auth '{name}' does not exist"
                )

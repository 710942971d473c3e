"""The PJSIP list actions (PJSIPShowEndpoints, PJSIPShowEndpoint, PJSIPShowAors,
PJSIPShowAuths, PJSIPShowContacts, PJSIPShowRegistrationsInbound) and PJSIPQualify
(compat §3.6, §5.8).

Owns the list framing (a reply with `EventList: start`, one event per item with the ActionID
right after `Event:` and no Privilege line, then `<Name>Complete` with `EventList: Complete`
and `ListItems`), the item fields in Asterisk's order (ContactList's order is the one the
captures show), and Asterisk's texts for empty lists and errors.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from ipaddress import ip_network

from sipnotify import permissions
from sipnotify.ami import replies
from sipnotify.ami.actions.pjsip import strip_endpoint_prefix
from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.ami.session import Action, AmiContext, Emit, Outcome, SessionState, reply
from sipnotify.calls.channels import Channel, ChannelState
from sipnotify.config.pjsip import Aor, Auth, Endpoint, Identify, Transport
from sipnotify.notify import Notifier, aor_targets
from sipnotify.reachability import Reachability, State
from sipnotify.sip.registrar import Binding

STREAM_BATCH = 256  # list items written between waits for the client to read


def _list(
    request: AmiMessage, start: str, event: str, items: Iterable[Fields], empty: str | None
) -> Outcome:
    """A list reply; with `empty` None an empty list is still a list (ListItems: 0)."""
    iterator = iter(items)
    first = next(iterator, None)
    if first is None and empty is not None:
        return reply(replies.error(request, empty))
    rest = iterator if first is None else itertools.chain((first,), iterator)
    return event_list(request, start, ((event, fields) for fields in rest), f"{event}Complete")


def event_list(
    request: AmiMessage,
    start: str,
    items: Iterable[tuple[str, Fields]],
    complete: str,
    *,
    id_after: int = 0,
) -> Outcome:
    """The start reply now; the items and the completion event stream after it, waiting for
    the client to read (a list of 100,000 contacts is tens of megabytes), while the session's
    later requests wait, so nothing is interleaved with the list. An item's ActionID follows
    its Event line, or its first `id_after` fields where Asterisk puts it later."""
    action_id = request.get("ActionID")
    head: tuple[tuple[str, str], ...] = (("ActionID", action_id),) if action_id else ()

    async def stream(emit: Emit) -> None:
        count = 0
        for event, fields in items:
            emit((("Event", event), *fields[:id_after], *head, *fields[id_after:]))
            count += 1
            if count % STREAM_BATCH == 0:
                await emit.drain()
        emit(
            (
                ("Event", complete),
                *head,
                ("EventList", "Complete"),
                ("ListItems", str(count)),
            )
        )

    started = replies.response(request, "Success", start, eventlist="start")
    return Outcome(replies=(started,), followup=stream, exclusive=True)


def _name(item: Endpoint | Aor | Auth) -> str:
    """Asterisk's sorcery containers list objects sorted by name."""
    return item.name


def _yes(value: bool) -> str:
    return "true" if value else "false"


def _contacts_of(aor: Aor, registered: list[Binding]) -> list[str]:
    return [*aor.contacts, *(b.uri for b in registered)]


def show_endpoints(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    notifier = ctx.notifier
    endpoints = sorted(notifier.config.endpoints.values(), key=_name) if notifier else []
    items = [_endpoint_item(e, notifier, _channels(ctx, e)) for e in endpoints if notifier]
    return _list(
        request,
        "A listing of Endpoints follows, presented as EndpointList events",
        "EndpointList",
        items,
        "No endpoints found\n",
    )


def _channels(ctx: AmiContext, endpoint: Endpoint) -> list[Channel]:
    calls = ctx.calls
    return [c for c in calls.channels if c.endpoint == endpoint.name] if calls is not None else []


def _device_state(channels: list[Channel], reachable: bool) -> str:
    """Asterisk's device state of an endpoint: from its channels, else its contacts."""
    if any(c.state is ChannelState.UP for c in channels):
        return "In use"
    if channels:
        return "Ringing"
    return "Not in use" if reachable else "Unavailable"


def _endpoint_item(endpoint: Endpoint, notifier: Notifier, channels: list[Channel]) -> Fields:
    config = notifier.config
    contact_lines = []
    reachable = False
    for name in endpoint.aors:
        aor = config.aors.get(name)
        if aor is None:
            continue
        uris = _contacts_of(aor, notifier.registered(name))
        reachable |= bool(uris)
        contact_lines.append(("Contacts", "".join(f"{name}/{uri}," for uri in uris)))
    return (
        ("ObjectType", "endpoint"),
        ("ObjectName", endpoint.name),
        ("Transport", endpoint.transport),
        ("Aor", ",".join(endpoint.aors)),
        ("Auths", ",".join(endpoint.auth)),
        ("OutboundAuths", ",".join(endpoint.outbound_auth)),
        *contact_lines,
        ("DeviceState", _device_state(channels, reachable)),
        ("ActiveChannels", str(len(channels))),
    )


def show_aors(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    notifier = ctx.notifier
    aors = sorted(notifier.config.aors.values(), key=_name) if notifier else []
    items = [_aor_fields(a, notifier) for a in aors if notifier]
    return _list(
        request,
        "A listing of AORs follows, presented as AorList events",
        "AorList",
        items,
        "No AORs found\n",
    )


def _aor_fields(aor: Aor, notifier: Notifier) -> Fields:
    uris = _contacts_of(aor, notifier.registered(aor.name))
    return (
        ("ObjectType", "aor"),
        ("ObjectName", aor.name),
        ("MinimumExpiration", str(aor.minimum_expiration)),
        ("MaximumExpiration", str(aor.maximum_expiration)),
        ("DefaultExpiration", str(aor.default_expiration)),
        ("QualifyFrequency", str(aor.qualify_frequency)),
        ("QualifyTimeout", "3.000000"),
        ("Qualify2xxOnly", "false"),
        ("AuthenticateQualify", "false"),
        ("MaxContacts", str(aor.max_contacts)),
        ("RemoveExisting", _yes(aor.remove_existing)),
        ("RemoveUnavailable", "false"),
        ("Mailboxes", ""),
        ("VoicemailExtension", ""),
        ("OutboundProxy", ""),
        ("SupportPath", _yes(aor.support_path)),
        ("Contacts", ",".join(f"{aor.name}/{uri}" for uri in uris)),
    )


def show_contacts(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    """Registered (stored) contacts only, as Asterisk lists them."""
    notifier = ctx.notifier
    bindings = []
    if notifier is not None:
        for name in sorted(notifier.config.aors):
            bindings += notifier.registered(name)
    checker = ctx.reachability
    return _list(
        request,
        "A listing of Contacts follows, presented as ContactList events",
        "ContactList",
        (_contact_fields(b, _state(checker, b)) for b in bindings),
        "No Contacts found\n",
    )


def _state(checker: Reachability | None, binding: Binding) -> State:
    return checker.state(binding.aor, binding.uri) if checker else State("NonQualified")


def _contact_fields(binding: Binding, state: State) -> Fields:
    rtt = _rtt(state)
    return (
        ("ObjectType", "contact"),
        ("ObjectName", binding.id),
        ("ViaAddr", binding.via_addr),
        ("QualifyTimeout", "3.000000"),
        ("Qualify2xxOnly", "false"),
        ("CallId", binding.call_id),
        ("RegServer", ""),
        ("PruneOnBoot", "no"),
        ("Path", binding.path),
        ("Endpoint", binding.endpoint),
        ("ViaPort", str(binding.via_port)),
        ("AuthenticateQualify", "no"),
        ("Uri", binding.uri),
        ("QualifyFrequency", "0"),
        ("UserAgent", binding.user_agent),
        ("ExpirationTime", str(int(binding.expires_at))),
        ("OutboundProxy", ""),
        ("Status", state.status),
        ("RoundtripUsec", rtt),
    )


def show_auths(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    notifier = ctx.notifier
    auths = sorted(notifier.config.auths.values(), key=_name) if notifier else []
    return _list(
        request,
        "A listing of Auths follows, presented as AuthList events",
        "AuthList",
        [_auth_fields(a) for a in auths],
        "No Auths found\n",
    )


def _auth_fields(auth: Auth) -> Fields:
    return (
        ("ObjectType", "auth"),
        ("ObjectName", auth.name),
        ("Username", auth.username),
        ("Password", auth.password),
        ("Md5Cred", auth.md5_cred),
        ("Realm", auth.realm),
        ("NonceLifetime", str(auth.nonce_lifetime)),
        ("AuthType", auth.auth_type),
    )


def show_registrations(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    """One InboundRegistrationDetail per AOR that has registrations; never an error."""
    notifier = ctx.notifier
    items: list[Fields] = []
    if notifier is not None:
        for aor in sorted(notifier.config.aors.values(), key=_name):
            registered = notifier.registered(aor.name)
            if registered:
                ids = ",".join(b.id for b in registered)
                items.append((*_aor_fields(aor, notifier)[:-1], ("Contacts", ids)))
    return _list(
        request,
        "Following are Events for each Inbound registration",
        "InboundRegistrationDetail",
        items,
        None,
    )


def show_endpoint(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    """EndpointDetail, then AorDetail, AuthDetail, TransportDetail, IdentifyDetail and
    ContactStatusDetail for every object associated with the endpoint."""
    raw = request.get("Endpoint")
    if not raw:
        return reply(replies.error(request, "PJSIPShowEndpoint requires an endpoint name\n"))
    name = raw[6:] if raw[:6].lower() == "pjsip/" else raw  # only pjsip/ is stripped here
    notifier = ctx.notifier
    if notifier is None or name not in notifier.config.endpoints:
        return reply(replies.error(request, f"Unable to retrieve endpoint {name}\n"))
    endpoint = notifier.config.endpoints[name]
    items = _endpoint_details(notifier, endpoint, ctx.reachability, _channels(ctx, endpoint))
    return event_list(
        request,
        "Following are Events for each object associated with the Endpoint",
        items,
        "EndpointDetailComplete",
    )


def _endpoint_details(
    notifier: Notifier,
    endpoint: Endpoint,
    checker: Reachability | None,
    channels: list[Channel],
) -> list[tuple[str, Fields]]:
    config = notifier.config
    summary = _endpoint_item(endpoint, notifier, channels)
    items: list[tuple[str, Fields]] = [("EndpointDetail", _endpoint_fields(endpoint, summary))]
    owner = (("EndpointName", endpoint.name),)
    statuses: list[tuple[str, Fields]] = []
    for name in endpoint.aors:
        aor = config.aors.get(name)
        if aor is None:
            continue
        registered = notifier.registered(name)
        total = len(aor.contacts) + len(registered)
        counts = (("TotalContacts", str(total)), ("ContactsRegistered", str(len(registered))))
        items.append(("AorDetail", (*_aor_fields(aor, notifier), *counts, *owner)))
        for target in aor_targets(endpoint, aor, registered):
            fields = _status_fields(aor, str(target.uri), endpoint, checker)
            statuses.append(("ContactStatusDetail", fields))
    items += [("AuthDetail", (*_auth_fields(config.auths[n]), *owner)) for n in endpoint.auth]
    if endpoint.transport:
        transport = _transport_fields(config.transports[endpoint.transport])
        items.append(("TransportDetail", (*transport, *owner)))
    for identify in sorted(config.identifies.values(), key=lambda i: i.name):
        if identify.endpoint == endpoint.name:
            items.append(("IdentifyDetail", _identify_fields(identify, endpoint.name)))
    return items + statuses


def _endpoint_fields(endpoint: Endpoint, summary: Fields) -> Fields:
    """The endpoint's options that sipnotify reads, CamelCased as Asterisk names them."""
    return (
        ("ObjectType", "endpoint"),
        ("ObjectName", endpoint.name),
        ("Context", endpoint.context),
        ("Aors", ",".join(endpoint.aors)),
        ("Auth", ",".join(endpoint.auth)),
        ("OutboundAuth", ",".join(endpoint.outbound_auth)),
        ("Transport", endpoint.transport),
        ("FromUser", endpoint.from_user),
        ("FromDomain", endpoint.from_domain),
        ("ContactUser", endpoint.contact_user),
        ("OutboundProxy", endpoint.outbound_proxy),
        ("UserEqPhone", _yes(endpoint.user_eq_phone)),
        ("RewriteContact", _yes(endpoint.rewrite_contact)),
        ("ForceRport", _yes(endpoint.force_rport)),
        ("IdentifyBy", ",".join(endpoint.identify_by)),
        *(f for f in summary if f[0] in ("DeviceState", "ActiveChannels")),
    )


def _transport_fields(transport: Transport) -> Fields:
    return (
        ("ObjectType", "transport"),
        ("ObjectName", transport.name),
        ("Protocol", transport.protocol),
        ("Bind", transport.bind),
        ("CaListFile", transport.ca_list_file),
        ("CertFile", transport.cert_file),
        ("PrivKeyFile", transport.priv_key_file),
        ("VerifyServer", "Yes" if transport.verify_server else "No"),
        ("Method", transport.method),
    )


def _identify_fields(identify: Identify, endpoint: str) -> Fields:
    return (
        ("ObjectType", "identify"),
        ("ObjectName", identify.name),
        ("Endpoint", identify.endpoint),
        ("Match", ",".join(_netmask(n) for n in identify.match)),
        ("EndpointName", endpoint),
    )


def _netmask(network: str) -> str:
    """`127.0.0.1/32` as Asterisk prints it: `127.0.0.1/255.255.255.255`."""
    net = ip_network(network)
    return f"{net.network_address}/{net.netmask}" if net.version == 4 else network


def _status_fields(aor: Aor, uri: str, endpoint: Endpoint, checker: Reachability | None) -> Fields:
    state = checker.state(aor.name, uri) if checker else State("NonQualified")
    return (
        ("AOR", aor.name),
        ("URI", uri),
        ("Status", state.status),
        ("RoundtripUsec", _rtt(state)),
        ("EndpointName", endpoint.name),
        ("QualifyFrequency", str(aor.qualify_frequency)),
    )


def _rtt(state: State) -> str:
    reachable = state.status == "Reachable" and state.rtt is not None
    return str(round((state.rtt or 0) * 1_000_000)) if reachable else "N/A"


def qualify(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    """PJSIPQualify: OPTIONS to every contact of the endpoint; each answer is announced."""
    name = strip_endpoint_prefix(request.get("Endpoint"))
    notifier = ctx.notifier
    if not name:
        return reply(replies.error(request, "Endpoint parameter missing."))
    if notifier is None or name not in notifier.config.endpoints:
        return reply(replies.error(request, "Unable to retrieve endpoint\n"))
    if not notifier.config.endpoints[name].aors:
        return reply(replies.error(request, "No AoRs configured for endpoint\n"))
    checker = ctx.reachability

    async def send(_emit: Emit) -> None:
        if checker is not None:
            await checker.qualify_endpoint(name)

    return Outcome(
        replies=(replies.success(request, "Endpoint found, will qualify"),), followup=send
    )


ACTIONS = (
    Action(
        "PJSIPShowEndpoints",
        "Lists PJSIP endpoints.",
        permissions.SYSTEM,
        show_endpoints,
    ),
    Action("PJSIPShowAors", "Lists PJSIP AORs.", permissions.SYSTEM, show_aors),
    Action("PJSIPShowContacts", "Lists PJSIP Contacts.", permissions.SYSTEM, show_contacts),
    Action("PJSIPShowAuths", "Lists PJSIP Auths.", permissions.SYSTEM, show_auths),
    Action(
        "PJSIPShowEndpoint",
        "Detail listing of an endpoint and its objects.",
        permissions.SYSTEM,
        show_endpoint,
    ),
    Action(
        "PJSIPShowRegistrationsInbound",
        "Lists PJSIP inbound registrations.",
        permissions.SYSTEM,
        show_registrations,
    ),
    Action(
        "PJSIPQualify",
        "Qualify a chan_pjsip endpoint.",
        permissions.SYSTEM | permissions.REPORTING,
        qualify,
    ),
)

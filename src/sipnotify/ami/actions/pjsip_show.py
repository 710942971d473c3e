"""PJSIPShowEndpoints, PJSIPShowAors, PJSIPShowContacts and PJSIPQualify (compat §3.6, §5.8).

Owns the list framing (a reply with `EventList: start`, one event per item with the ActionID
right after `Event:` and no Privilege line, then `<Name>Complete` with `EventList: Complete`
and `ListItems`), the item fields in Asterisk's order (ContactList's order is the one the
captures show), and Asterisk's texts for empty lists and errors.
"""

from __future__ import annotations

from sipnotify import permissions
from sipnotify.ami import replies
from sipnotify.ami.actions.pjsip import strip_endpoint_prefix
from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.ami.session import Action, AmiContext, Emit, Outcome, SessionState, reply
from sipnotify.config.pjsip import Aor, Endpoint
from sipnotify.notify import Notifier
from sipnotify.reachability import Reachability, State
from sipnotify.sip.registrar import Binding


def _list(request: AmiMessage, start: str, event: str, items: list[Fields], empty: str) -> Outcome:
    if not items:
        return reply(replies.error(request, empty))
    action_id = request.get("ActionID")
    head: tuple[tuple[str, str], ...] = (("ActionID", action_id),) if action_id else ()
    out = [replies.response(request, "Success", start, eventlist="start")]
    out += [(("Event", event), *head, *fields) for fields in items]
    out.append(
        (
            ("Event", f"{event}Complete"),
            *head,
            ("EventList", "Complete"),
            ("ListItems", str(len(items))),
        )
    )
    return Outcome(replies=tuple(out))


def _name(item: Endpoint | Aor) -> str:
    """Asterisk's sorcery containers list objects sorted by name."""
    return item.name


def _yes(value: bool) -> str:
    return "true" if value else "false"


def _contacts_of(aor: Aor, registered: list[Binding]) -> list[str]:
    return [*aor.contacts, *(b.uri for b in registered)]


def show_endpoints(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    notifier = ctx.notifier
    endpoints = sorted(notifier.config.endpoints.values(), key=_name) if notifier else []
    items = [_endpoint_item(e, notifier) for e in endpoints if notifier]
    return _list(
        request,
        "A listing of Endpoints follows, presented as EndpointList events",
        "EndpointList",
        items,
        "No endpoints found\n",
    )


def _endpoint_item(endpoint: Endpoint, notifier: Notifier) -> Fields:
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
        ("DeviceState", "Not in use" if reachable else "Unavailable"),
        ("ActiveChannels", "0"),
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
        [_contact_fields(b, _state(checker, b)) for b in bindings],
        "No Contacts found\n",
    )


def _state(checker: Reachability | None, binding: Binding) -> State:
    return checker.state(binding.aor, binding.uri) if checker else State("NonQualified")


def _contact_fields(binding: Binding, state: State) -> Fields:
    rtt = str(round(state.rtt * 1_000_000)) if state.status == "Reachable" and state.rtt else "N/A"
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


def qualify(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> Outcome:
    """PJSIPQualify: OPTIONS to every contact of the endpoint; the answers are logged."""
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
    Action(
        "PJSIPQualify",
        "Qualify a chan_pjsip endpoint.",
        permissions.SYSTEM | permissions.REPORTING,
        qualify,
    ),
)

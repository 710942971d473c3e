"""The PJSIP list actions (PJSIPShowEndpoints, PJSIPShowEndpoint, PJSIPShowAors,
PJSIPShowAuths, PJSIPShowContacts, PJSIPShowRegistrationsInbound) and PJSIPQualify
(behaviour: show actions).

Owns the list framing (a reply with `EventList: start`, one event per item with the ActionID
right after `Event:` and no Privilege line, then `<Name>Complete` with `EventList: Complete`
and `ListItems`), the item fields in Asterisk's order (ContactList's order is the one the
captures show), and Asterisk's texts for empty lists and errors.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from sipnotify.ami import replies
from sipnotify.ami.actions.pjsip import strip_endpoint_prefix
from sipnotify.ami.actions.pjsip_objects import (
    aor_fields,
    auth_fields,
    contact_list_fields,
    contact_status_fields,
    endpoint_fields,
    identify_fields,
    registration_fields,
    transport_fields,
)
from sipnotify.ami.codec import AmiMessage, Fields
from sipnotify.ami.session import Action, ActionResult, AmiContext, Emit, SessionState, reply
from sipnotify.calls.channels import Channel, ChannelState
from sipnotify.config import permissions
from sipnotify.config.pjsip import Aor, Auth, Endpoint
from sipnotify.notify.notifier import Notifier
from sipnotify.registrar.reachability import Reachability, State
from sipnotify.sip.registrar import Binding

STREAM_BATCH = 256  # list items written between waits for the client to read


def _list(
    request: AmiMessage, start: str, event: str, items: Iterable[Fields], empty: str | None
) -> ActionResult:
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
) -> ActionResult:
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
    return ActionResult(replies=(started,), followup=stream, exclusive=True)


def _name(item: Endpoint | Aor | Auth) -> str:
    """Asterisk's sorcery containers list objects sorted by name."""
    return item.name


def _contacts_of(aor: Aor, registered: list[Binding]) -> list[str]:
    return [*aor.contacts, *(b.uri for b in registered)]


def show_endpoints(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    notifier = ctx.notifier
    endpoints = sorted(notifier.config.endpoints.values(), key=_name)
    items = [_endpoint_item(e, notifier, _channels(ctx, e)) for e in endpoints]
    return _list(
        request,
        "A listing of Endpoints follows, presented as EndpointList events",
        "EndpointList",
        items,
        "No endpoints found\n",
    )


def _channels(ctx: AmiContext, endpoint: Endpoint) -> list[Channel]:
    calls = ctx.calls
    return [c for c in calls.channels if c.endpoint == endpoint.name]


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


def show_aors(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    notifier = ctx.notifier
    aors = sorted(notifier.config.aors.values(), key=_name)
    items = [aor_fields(a, _uris(a, notifier)) for a in aors]
    return _list(
        request,
        "A listing of AORs follows, presented as AorList events",
        "AorList",
        items,
        "No AORs found\n",
    )


def _uris(aor: Aor, notifier: Notifier) -> list[str]:
    return _contacts_of(aor, notifier.registered(aor.name))


def show_contacts(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    """Registered (stored) contacts only, as Asterisk lists them."""
    notifier = ctx.notifier
    bindings = []
    for name in sorted(notifier.config.aors):
        bindings += notifier.registered(name)
    checker = ctx.reachability
    frequency = {name: aor.qualify_frequency for name, aor in notifier.config.aors.items()}
    return _list(
        request,
        "A listing of Contacts follows, presented as ContactList events",
        "ContactList",
        (contact_list_fields(b, _state(checker, b), frequency.get(b.aor, 0)) for b in bindings),
        "No Contacts found\n",
    )


def _state(checker: Reachability, binding: Binding) -> State:
    return checker.state(binding.aor, binding.uri)


def show_auths(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    notifier = ctx.notifier
    auths = sorted(notifier.config.auths.values(), key=_name)
    return _list(
        request,
        "A listing of Auths follows, presented as AuthList events",
        "AuthList",
        [auth_fields(a) for a in auths],
        "No Auths found\n",
    )


def show_registrations(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    """One InboundRegistrationDetail per AOR, static contacts and all; never an error."""
    notifier = ctx.notifier
    aors = sorted(notifier.config.aors.values(), key=_name)
    items = [registration_fields(a, _uris(a, notifier)) for a in aors]
    return _list(
        request,
        "Following are Events for each Inbound registration",
        "InboundRegistrationDetail",
        items,
        None,
    )


def show_registration_statuses(
    ctx: AmiContext, _s: SessionState, request: AmiMessage
) -> ActionResult:
    """A ContactStatusDetail per registered contact (static ones are not registrations)."""
    notifier = ctx.notifier
    items: list[Fields] = []
    for aor in sorted(notifier.config.aors.values(), key=_name):
        for binding in notifier.registered(aor.name):
            state = _state(ctx.reachability, binding)
            items.append(contact_status_fields(aor, binding.uri, binding.endpoint, state,
                                               binding))  # fmt: skip
    return _list(
        request,
        "Following are ContactStatusEvents for each Inbound registration",
        "ContactStatusDetail",
        items,
        None,
    )


def show_endpoint(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    """EndpointDetail, then AorDetail, AuthDetail, TransportDetail, IdentifyDetail and
    ContactStatusDetail for every object associated with the endpoint."""
    raw = request.get("Endpoint")
    if not raw:
        return reply(replies.error(request, "PJSIPShowEndpoint requires an endpoint name\n"))
    name = raw[6:] if raw[:6].lower() == "pjsip/" else raw  # only pjsip/ is stripped here
    notifier = ctx.notifier
    if name not in notifier.config.endpoints:
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
    checker: Reachability,
    channels: list[Channel],
) -> list[tuple[str, Fields]]:
    """In the order Asterisk's formatters run: the endpoint, its auths (inbound, then
    outbound), its transport, each AOR followed by its contacts' statuses, its identifies."""
    config = notifier.config
    summary = _endpoint_item(endpoint, notifier, channels)
    computed = tuple(f for f in summary if f[0] in ("DeviceState", "ActiveChannels"))
    owner = (("EndpointName", endpoint.name),)
    items: list[tuple[str, Fields]] = [("EndpointDetail", (*endpoint_fields(endpoint), *computed))]
    for name in (*endpoint.auth, *endpoint.outbound_auth):
        items.append(("AuthDetail", (*auth_fields(config.auths[name]), *owner)))
    if endpoint.transport:
        transport = transport_fields(config.transports[endpoint.transport])
        items.append(("TransportDetail", (*transport, *owner)))
    for name in endpoint.aors:
        aor = config.aors.get(name)
        if aor is not None:
            items += _aor_details(aor, endpoint, notifier.registered(name), checker)
    for identify in sorted(config.identifies.values(), key=lambda i: i.name):
        if identify.endpoint == endpoint.name:
            items.append(("IdentifyDetail", (*identify_fields(identify), *owner)))
    return items


def _aor_details(
    aor: Aor, endpoint: Endpoint, registered: list[Binding], checker: Reachability
) -> list[tuple[str, Fields]]:
    uris = _contacts_of(aor, registered)
    counts = (("TotalContacts", str(len(uris))), ("ContactsRegistered", str(len(registered))),
              ("EndpointName", endpoint.name))  # fmt: skip
    items: list[tuple[str, Fields]] = [("AorDetail", (*aor_fields(aor, uris), *counts))]
    for uri in aor.contacts:
        state = checker.state(aor.name, uri) if checker else State("NonQualified")
        items.append(("ContactStatusDetail",
                      contact_status_fields(aor, uri, endpoint.name, state, None)))  # fmt: skip
    for binding in registered:
        fields = contact_status_fields(aor, binding.uri, endpoint.name, _state(checker, binding),
                                       binding)  # fmt: skip
        items.append(("ContactStatusDetail", fields))
    return items


def qualify(ctx: AmiContext, _s: SessionState, request: AmiMessage) -> ActionResult:
    """PJSIPQualify: OPTIONS to every contact of the endpoint; each answer is announced."""
    name = strip_endpoint_prefix(request.get("Endpoint"))
    notifier = ctx.notifier
    if not name:
        return reply(replies.error(request, "Endpoint parameter missing."))
    if name not in notifier.config.endpoints:
        return reply(replies.error(request, "Unable to retrieve endpoint\n"))
    if not notifier.config.endpoints[name].aors:
        return reply(replies.error(request, "No AoRs configured for endpoint\n"))
    checker = ctx.reachability

    async def send(_emit: Emit) -> None:
        await checker.qualify_endpoint(name)

    return ActionResult(
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
        "PJSIPShowRegistrationInboundContactStatuses",
        "Lists ContactStatuses for PJSIP inbound registrations.",
        permissions.SYSTEM,
        show_registration_statuses,
    ),
    Action(
        "PJSIPQualify",
        "Qualify a chan_pjsip endpoint.",
        permissions.SYSTEM | permissions.REPORTING,
        qualify,
    ),
)

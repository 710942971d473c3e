"""The calls layer: INVITEs from phones become channels that run the dialplan.

Owns admitting a call (the caller identified and proven as for REGISTER, an extension that
exists in the endpoint's context, a usable SDP offer or none (then the offer is ours), room
under the channel limit: else 401/403, 404, 488 or 503, as Asterisk answers), finding the
call a request inside a dialog belongs to (481 when there is none, 500 for a CSeq out of
order), outgoing calls for Originate and Dial, and what the AMI layer asks of calls: a
channel's in-dialog NOTIFY target, hanging a channel up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sipnotify.calls import apps
from sipnotify.calls.apps import CallerId, Leg
from sipnotify.calls.call import InboundCall
from sipnotify.calls.channels import Channel, Channels, ChannelState, Listener
from sipnotify.calls.outbound import OutboundCall, SendInvite
from sipnotify.config.extensions import Dialplan, Extension
from sipnotify.config.pjsip import Endpoint, PjsipConfig
from sipnotify.notify.content import NotifyError
from sipnotify.notify.notifier import Notifier
from sipnotify.notify.requests import credentials_for
from sipnotify.notify.targets import InDialog, dialog_hop, endpoint_targets
from sipnotify.registrar.service import Registrar
from sipnotify.sip import sdp
from sipnotify.sip.dialog import Dialog
from sipnotify.sip.errors import ParseError
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Outgoing, Request, outgoing
from sipnotify.sip.responses import Reply
from sipnotify.sip.transactions.exchange import Build, Final
from sipnotify.sip.transactions.machines import Timers
from sipnotify.sip.uri import parse_name_addr, parse_uri
from sipnotify.ua.addresses import Local, via
from sipnotify.ua.server import IncomingInvite

log = logging.getLogger("sipnotify.calls")


UNKNOWN = ("<unknown>", "<unknown>")


class CallManager:
    def __init__(
        self,
        *,
        config: PjsipConfig,
        dialplan: Dialplan,
        registrar: Registrar,
        notifier: Notifier,
        timers: Timers,
        send_invite: SendInvite,
        listener: Listener,
        max_channels: int,
        wall_clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.notifier = notifier
        self.ids: Ids = notifier.ids
        self.timers = timers
        self._wall_clock = wall_clock
        self.channels = Channels(listener, wall_clock)
        self.dialplan = dialplan
        self._registrar = registrar
        self._max_channels = max_channels
        self._calls: dict[tuple[str, str], Leg] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._send_invite = send_invite
        self._media_host = next(
            (t.host for t in config.transports.values() if t.protocol == "udp"), "127.0.0.1"
        )

    # -- ua.server.Calls ---------------------------------------------------------------------------

    def invite(self, invite: IncomingInvite) -> None:
        request = invite.request
        local_tag = _tag(request.header("To"))
        if local_tag:
            self._reinvite(invite, local_tag)
            return
        admitted = self._registrar.admit(request, invite.source[0], self._wall_clock())
        if not isinstance(admitted, Endpoint):
            invite.refuse(admitted.status, admitted.reason, extra=admitted.headers)
            return
        self._start(invite, admitted)

    def ack(self, request: Request) -> None:
        call = self._calls.get((request.call_id, _tag(request.header("To"))))
        if isinstance(call, InboundCall):
            call.acknowledged(request)

    def cancel(self, invite: IncomingInvite) -> None:
        call = self._calls.get((invite.request.call_id, invite.local_tag))
        if isinstance(call, InboundCall):
            call.cancelled()
        else:
            invite.respond(487, "Request Terminated")

    def in_dialog(self, request: Request) -> Reply:
        call = self._calls.get((request.call_id, _tag(request.header("To"))))
        if call is None or call.dialog is None:
            return Reply(481, "Call/Transaction Does Not Exist")
        if not call.dialog.accepts(request):
            return Reply(500, "Server Internal Error", (("Retry-After", "1"),))
        if request.method == "BYE":
            call.peer_hung_up()
        return Reply(200, "OK")

    # -- calls.call.CallContext ------------------------------------------------------------

    def send_bye(
        self,
        dialog: Dialog,
        endpoint: Endpoint,
        contact: str,
        flow: tuple[str, tuple[str, int]] | None,
    ) -> None:
        """RFC 3261 §15.1.1: BYE inside the dialog, to its remote target via its route set."""
        ids = self.ids

        def factory(local: Local) -> Build:
            def build(_cseq: int, authorization: tuple[tuple[str, str], ...]) -> Outgoing:
                top = via(local, ids.branch())
                extra = (*authorization, ("Max-Forwards", "70"))
                return outgoing(dialog.request("BYE", via=top, contact=contact, extra=extra))

            return build

        def done(answered: asyncio.Future[Final]) -> None:
            final = answered.result()
            if final.status is None or final.status >= 300:
                log.info("BYE to %s: %s", dialog.remote_target, final.status or final.error)

        hop = dialog_hop(dialog, endpoint, flow)
        credentials = credentials_for(endpoint, self.config)
        self.notifier.sender.request(hop, factory, credentials).add_done_callback(done)

    def forget(self, call: object) -> None:
        for key, known in list(self._calls.items()):
            if known is call:
                del self._calls[key]

    # -- for the AMI layer -----------------------------------------------------------------

    def notify_target(self, name: str) -> InDialog | None:
        call = self._call_of(name)
        return call.notify_target() if call is not None else None

    def hang_up(self, channel: Channel, cause: int) -> None:
        call = self._call_of(channel.name)
        if call is not None:
            call.hang_up(cause)

    def hang_up_all(self) -> None:
        for call in list(self._calls.values()):
            call.hang_up()

    def _call_of(self, name: str) -> Leg | None:
        return next((c for c in self._calls.values() if c.channel.name == name), None)

    # -- outgoing calls (Originate, Dial) ------------------------------------------------------

    async def call_out(
        self, endpoint_name: str, *, caller: Channel | None = None, caller_id: CallerId = None
    ) -> OutboundCall | None:
        """A new channel calling `endpoint_name`'s first contact (Newchannel, state Down);
        None when the endpoint does not exist or has no contact."""
        endpoint = self.config.endpoints.get(endpoint_name)
        if endpoint is None or self._full():
            return None
        try:
            targets = endpoint_targets(self.config, endpoint_name, self.notifier.registered)
        except NotifyError:
            return None
        # Dial: the new channel's caller ID is the number dialed and its connected line the
        # caller; Originate: both are the CallerID given (Asterisk's app_dial and Originate).
        if caller_id is not None:
            own = connected = caller_id
        else:
            own = (endpoint.name, "<unknown>")
            connected = (caller.caller_num, caller.caller_name) if caller else UNKNOWN
        channel = self.channels.create(
            endpoint.name,
            state=ChannelState.DOWN,
            linked=caller,
            caller_num=own[0],
            caller_name=own[1],
            connected_num=connected[0],
            connected_name=connected[1],
            exten=endpoint.name,
        )
        call = OutboundCall(self, endpoint, targets[0], channel)
        await call.start(self._send_invite, self._media_host)
        if not call.ended:
            self._calls[call.key] = call
        return call

    def run_on(self, leg: OutboundCall, steps: Extension, *, start: int = 1) -> None:
        """Once `leg` answered, run dialplan steps on it (Originate's Context/Exten or
        Application)."""
        leg.task = self._watch(apps.run(leg, steps, self, start=start))

    def _watch(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A call's dialplan task, kept until done; an error in it is logged, not lost."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a call's dialplan failed", exc_info=task.exception())

    def find_extension(self, context: str, exten: str) -> Extension | None:
        return self.dialplan.find(context, exten)

    # -- starting a call ---------------------------------------------------------------------

    def _start(self, invite: IncomingInvite, endpoint: Endpoint) -> None:
        request = invite.request
        if not _tag(request.header("From")):
            invite.refuse(400, "Bad Request")  # RFC 3261 §8.1.1.3: a dialog needs the From tag
            return
        exten = _exten(request)
        extension = self.dialplan.find(endpoint.context, exten)
        if extension is None:
            log.info("call from %s to %s@%s: no such extension", endpoint.name, exten,
                     endpoint.context)  # fmt: skip
            invite.refuse(404, "Not Found")
            return
        try:
            offer = sdp.parse(request.body) if request.body else None
            if offer is not None:
                sdp.choose(offer)
        except sdp.SdpError as exc:
            log.info("call from %s refused: %s", endpoint.name, exc)
            invite.refuse(488, "Not Acceptable Here")
            return
        if self._full():
            invite.refuse(503, "Service Unavailable", extra=(("Retry-After", "5"),))
            return
        number, name = _caller(request)
        channel = self.channels.create(
            endpoint.name,
            state=ChannelState.RING,
            caller_num=number,
            caller_name=name,
            context=endpoint.context,
            exten=exten,
        )
        call = InboundCall(self, invite, endpoint, channel, offer)
        self._calls[call.key] = call
        call.task = self._watch(apps.run(call, extension, self))

    def _full(self) -> bool:
        """asterisk.conf `maxcalls` (0: no limit) is reached."""
        return 0 < self._max_channels <= len(self.channels)

    def _reinvite(self, invite: IncomingInvite, local_tag: str) -> None:
        call = self._calls.get((invite.request.call_id, local_tag))
        if not isinstance(call, InboundCall) or call.dialog is None:
            invite.refuse(481, "Call/Transaction Does Not Exist")
        elif not call.dialog.accepts(invite.request):
            invite.refuse(500, "Server Internal Error", extra=(("Retry-After", "1"),))
        else:
            call.reinvite(invite)


def _tag(value: str | None) -> str:
    try:
        return parse_name_addr(value or "").tag or ""
    except ParseError:
        return ""


def _exten(request: Request) -> str:
    """The dialled extension: the Request-URI's user part, else `s` (as Asterisk)."""
    try:
        return parse_uri(request.uri).user or "s"
    except ParseError:
        return "s"


def _caller(request: Request) -> tuple[str, str]:
    """Caller ID from From: the user part and the display name (`<unknown>` if absent)."""
    try:
        sender = parse_name_addr(request.header("From") or "")
    except ParseError:
        return "<unknown>", "<unknown>"
    display = (sender.display or "").strip('"') or "<unknown>"
    return sender.uri.user or "<unknown>", display

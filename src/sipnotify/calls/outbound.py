"""One call to a phone (the UAC side), for Originate and Dial: INVITE, ringing, answer, BYE.

Owns the INVITE with an SDP offer (PCMU and PCMA), the early dialog a provisional response
with a To tag creates (the channel goes Ringing; an in-dialog NOTIFY can reach the phone
there, behaviour: notify request), the ACK of the 2xx (RFC 3261 §13.2.2.4, repeated for
every copy of the 2xx), CANCEL while unanswered, BYE in both directions, and the hangup
cause a refusal maps to (chan_pjsip's hangup_sip2cause).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sipnotify.calls.call import NORMAL_CLEARING, CallContext, CallLeg
from sipnotify.calls.channels import Channel, ChannelState
from sipnotify.calls.media import MediaPort
from sipnotify.config.pjsip import Endpoint
from sipnotify.notify.targets import Target
from sipnotify.sip import sdp
from sipnotify.sip.dialog import Dialog, uac_dialog
from sipnotify.sip.errors import ParseError
from sipnotify.sip.message import Request, Response, serialize
from sipnotify.sip.transactions.machines import ErrorKind, Outcome
from sipnotify.ua.addresses import Hop, Local, bracketed, via
from sipnotify.ua.client import OutgoingInvite

log = logging.getLogger("sipnotify.calls")

# hangup_sip2cause() for the answers phones give most.
SIP_TO_CAUSE = {
    403: 21,
    404: 1,
    408: 18,
    480: 19,
    486: 17,
    487: 16,
    488: 58,
    503: 34,
    600: 17,
    603: 21,
}
OFFER = (0, 8)
NETWORK_OUT_OF_ORDER = 38


SendInvite = Callable[[Hop, Callable[[Local], Request], "OutboundCall"], Awaitable[OutgoingInvite]]


class OutboundCall(CallLeg):
    def __init__(
        self, ctx: CallContext, endpoint: Endpoint, target: Target, channel: Channel
    ) -> None:
        super().__init__(ctx, endpoint, channel)
        self.target = target
        self.flow = target.flow
        self.peer_media: sdp.Media | None = None  # where the phone takes RTP (its answer)
        self.answered = asyncio.Event()
        self.failure_cause: int | None = None
        self._invite: OutgoingInvite | None = None
        self._ack: bytes = b""
        self._tag = ctx.ids()
        self.call_id = ""

    @property
    def key(self) -> tuple[str, str]:
        """Call-ID and our tag: what requests from the phone in this call carry."""
        return self.call_id, self._tag

    async def answer(self) -> None:
        """The phone answered already (dialplan steps run once it has)."""

    async def ring(self) -> None:
        """Nothing to tell: we are the caller."""

    async def progress(self) -> None:
        """Nothing to tell: we are the caller."""

    async def start(self, send_invite: SendInvite, media_host: str) -> None:
        """Send the INVITE, with an offer for a new media port on `media_host`."""
        self.media = await MediaPort.open(media_host)
        port = self.media.port
        endpoint = self.endpoint
        hop = Hop(self.target.uri, endpoint.transport, endpoint.outbound_proxy, self.target.flow)
        try:
            self._invite = await send_invite(
                hop, lambda local: self.build_invite(local, port), self
            )
        except OSError as exc:
            log.info("call to %s failed: %s", self.target.uri, exc.strerror or exc)
            self.failure_cause = NETWORK_OUT_OF_ORDER
            self._finish(NETWORK_OUT_OF_ORDER)

    # -- the INVITE, for the endpoint ------------------------------------------------------

    def build_invite(self, local: Local, media_port: int) -> Request:
        """The INVITE as chan_pjsip sends it: From the endpoint's from_user, else the
        channel's connected line (who is calling: the caller's number and name), else
        `default_from_user`; To and Request-URI the contact; an SDP offer. Requests the call
        sends later (BYE, an in-dialog NOTIFY) carry the same From."""
        ids = self._ctx.ids
        channel = self.channel
        number = "" if channel.connected_num == "<unknown>" else channel.connected_num
        user = self.endpoint.from_user or number or self._ctx.config.global_.default_from_user
        name = (
            ""
            if self.endpoint.from_user or channel.connected_name == "<unknown>"
            else (channel.connected_name)
        )
        host = local.host
        contact = f"sip:{user}@{bracketed(host)}:{local.port}"
        if local.protocol != "udp":
            contact += f";transport={local.protocol.upper()}"
        self.contact = contact
        top = via(local, ids.branch())
        session = abs(hash(self._tag)) % 10**9
        offer = sdp.describe(address=host, port=media_port, payloads=OFFER, session=session)
        display = f'"{name}" ' if name else ""
        self.call_id = ids()
        headers = (
            ("Via", top),
            ("From", f"{display}<sip:{user}@{bracketed(host)}>;tag={self._tag}"),
            ("To", f"<{self.target.uri.without_port()}>"),
            ("Contact", f"<{contact}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{ids.cseq()} INVITE"),
            ("Max-Forwards", "70"),
            ("User-Agent", self._ctx.config.global_.user_agent),
            ("Allow", "OPTIONS, INVITE, ACK, BYE, CANCEL, NOTIFY"),
            ("Content-Type", "application/sdp"),
        )
        return Request(method="INVITE", uri=str(self.target.uri), headers=headers, body=offer)

    # -- ua.client.CallEvents --------------------------------------------------------------------

    def provisional(self, response: Response) -> None:
        """§12.1.2: a 1xx with a To tag makes the early dialog; 180/183 ring the channel."""
        if (
            self.dialog is None
            and self._invite is not None
            and ";tag=" in (response.header("To") or "")
        ):
            try:
                self.dialog = uac_dialog(self._invite.request, response)
            except ParseError:
                return
        if response.status in (180, 183):
            self._ctx.channels.set_state(self.channel, ChannelState.RINGING)

    def final(self, outcome: Outcome) -> None:
        response, failure = outcome.response, outcome.failure
        if response is not None and 200 <= response.status < 300:
            self._accepted(response)
            return
        status = response.status if response is not None else None
        log.info("call to %s failed: %s", self.target.uri, status or failure)
        timed_out = failure is not None and failure.kind is ErrorKind.TIMEOUT
        cause = SIP_TO_CAUSE.get(status or 0, 18 if timed_out else 34)
        self.failure_cause = cause
        self._finish(cause)

    def repeated(self, response: Response) -> None:
        del response
        if self._invite is not None and self._ack:
            self._invite.send(self._ack)

    def _accepted(self, response: Response) -> None:
        assert self._invite is not None
        invite = self._invite.request
        self.dialog = uac_dialog(invite, response)
        try:
            self.peer_media = sdp.parse(response.body)
        except sdp.SdpError:
            self.peer_media = None
        self._ack = self._build_ack(self.dialog, invite)
        self._invite.send(self._ack)
        if self.ended:  # hung up while the 2xx was on its way: end it properly (§15)
            self._ctx.send_bye(self.dialog, self.endpoint, self.contact, self.flow)
            return
        self._ctx.channels.set_state(self.channel, ChannelState.UP)
        self.answered.set()

    def _build_ack(self, dialog: Dialog, invite: Request) -> bytes:
        """§13.2.2.4: the INVITE's CSeq number, a new branch, the dialog's target and routes."""
        sent_by = invite.header_values("Via")[0].split(";branch=")[0]  # the INVITE's, as sent
        ack = dialog.request(
            "ACK",
            via=f"{sent_by};branch=z9hG4bKPj{self._ctx.ids()}",
            contact=self.contact,
            extra=(("Max-Forwards", "70"),),
            cseq=invite.cseq.number,
        )
        return serialize(ack)

    # -- ending ------------------------------------------------------------------------------

    def peer_hung_up(self) -> None:
        self._finish(NORMAL_CLEARING)

    def hang_up(self, cause: int = NORMAL_CLEARING) -> None:
        if self.ended:
            return
        answered = self.answered.is_set()
        if not answered and self._invite is not None:
            self._invite.cancel()
        self._end(cause, send_bye=answered, tasks=())

    def _finish(self, cause: int) -> None:
        self._end(cause, send_bye=False, tasks=())

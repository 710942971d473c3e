"""One call from a phone (the UAS side): its INVITE, dialog, channel, media port and dialplan.

Owns the call's answers (180, 183 and 200 with SDP, a final error before answering), the 2xx
repeated until the ACK (RFC 3261 §13.3.1.4: T1 doubling to T2; without an ACK after 64*T1
the call is ended with a BYE), re-INVITEs answered keeping the call, BYE in both
directions, CANCEL (487), and freeing everything exactly once when the call ends, whatever
ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from sipnotify.calls.channels import Channel, Channels, ChannelState
from sipnotify.calls.media import MediaPort, watch
from sipnotify.config.numbers import whole_number
from sipnotify.config.pjsip import Endpoint, PjsipConfig
from sipnotify.notify.targets import InDialog
from sipnotify.sip import sdp
from sipnotify.sip.dialog import Dialog, uas_dialog
from sipnotify.sip.ids import Ids
from sipnotify.sip.message import Request
from sipnotify.sip.transactions.machines import Timers
from sipnotify.ua.server import IncomingInvite

log = logging.getLogger("sipnotify.calls")

# chan_pjsip's hangup_cause2sip(); any other cause declines with 603 (pjsip's default).
CAUSE_TO_SIP = {
    1: (404, "Not Found"),
    2: (404, "Not Found"),
    3: (404, "Not Found"),
    17: (486, "Busy Here"),
    18: (408, "Request Timeout"),
    19: (480, "Temporarily Unavailable"),
    20: (480, "Temporarily Unavailable"),
    21: (403, "Forbidden"),
    22: (410, "Gone"),
    31: (480, "Temporarily Unavailable"),
    34: (503, "Service Unavailable"),
    42: (503, "Service Unavailable"),
}
NORMAL_CLEARING = 16
MAX_CAUSE = 127  # Q.850 causes are 7 bits
OFFER = (0, 8)  # PCMU, PCMA
ALLOW = "OPTIONS, INVITE, ACK, BYE, CANCEL, NOTIFY"
MEDIA_WAIT = 0.5  # seconds Answer() waits for the first media packet (Asterisk: 500 ms)


def hangup_cause(text: str) -> int:
    """A cause from AMI's `Cause` or Hangup()'s argument: 0 to 127; anything else (a word,
    `²`, a thousand digits) hangs up with normal clearing, as Asterisk hangs up regardless."""
    cause = whole_number(text, maximum=MAX_CAUSE)
    return NORMAL_CLEARING if cause is None else cause


class CallContext(Protocol):
    """What a call needs from the calls layer."""

    channels: Channels
    config: PjsipConfig
    ids: Ids
    timers: Timers

    def send_bye(
        self,
        dialog: Dialog,
        endpoint: Endpoint,
        contact: str,
        flow: tuple[str, tuple[str, int]] | None,
    ) -> None: ...

    def forget(self, call: object) -> None:
        """The call ended: drop it from every table."""


class CallLeg:
    """What both directions of a call share: the endpoint and channel, the dialog, the media
    port, the dialplan task, the Contact we give the phone and the connection to reach it by,
    and ending exactly once, freeing all of it."""

    contact = ""  # our Contact URI in this call
    flow: tuple[str, tuple[str, int]] | None = None  # the TCP/TLS connection to the phone

    def __init__(self, ctx: CallContext, endpoint: Endpoint, channel: Channel) -> None:
        self._ctx = ctx
        self.endpoint = endpoint
        self.channel = channel
        self.media: MediaPort | None = None
        self.dialog: Dialog | None = None
        self.ended = False
        self.finished = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _end(
        self, cause: int, *, send_bye: bool, tasks: tuple[asyncio.Task[None] | None, ...]
    ) -> None:
        """Hang the channel up (with a BYE first when asked), close the media port, stop the
        leg's tasks (not the one running this) and forget the call; once."""
        if self.ended:
            return
        self.ended = True
        self.finished.set()
        if self.dialog is not None:
            if send_bye:
                self._ctx.send_bye(self.dialog, self.endpoint, self.contact, self.flow)
            self.dialog.terminate()
        self._ctx.channels.hang_up(self.channel, cause)
        if self.media is not None:
            self.media.close()
        current = asyncio.current_task()
        for task in (*tasks, self.task):
            if task is not None and task is not current:
                task.cancel()
        self._ctx.forget(self)

    def notify_target(self) -> InDialog | None:
        """The in-dialog NOTIFY target while the dialog is early (a 1xx with a tag) or
        confirmed (behaviour: notify request)."""
        if self.ended or self.dialog is None:
            return None
        return InDialog(self.dialog, self.endpoint, self.contact, self.endpoint.name, self.flow)


class InboundCall(CallLeg):
    def __init__(
        self,
        ctx: CallContext,
        invite: IncomingInvite,
        endpoint: Endpoint,
        channel: Channel,
        offer: sdp.Media | None,
    ) -> None:
        super().__init__(ctx, endpoint, channel)
        self.invite = invite
        self.contact = invite.contact
        self.flow = (invite.protocol, invite.source) if invite.reliable else None
        self._offer = offer
        # An INVITE without SDP gets our offer in the 200 and its answer in the ACK (RFC 3264).
        self._payloads = (sdp.choose(offer),) if offer is not None else OFFER
        self._session = abs(hash(channel.uniqueid)) % 10**9
        self._answered = False
        self._acked = asyncio.Event()
        self._repeat: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Call-ID and our tag: what requests from the phone in this call carry."""
        return self.invite.request.call_id, self.invite.local_tag

    @property
    def peer_media(self) -> sdp.Media | None:
        """Where the caller takes RTP: its offer, or its answer in the ACK."""
        return self._offer

    # -- answers ---------------------------------------------------------------------------

    async def ring(self) -> None:
        """180 Ringing: the early dialog starts (§12.1.1)."""
        self._early_dialog()
        self.invite.respond(180, "Ringing")

    async def progress(self) -> None:
        """183 Session Progress with the SDP answer (early media)."""
        self._early_dialog()
        body = await self._sdp()
        self.invite.respond(183, "Session Progress", extra=_sdp_headers(), body=body)

    async def answer(self) -> None:
        """200 OK with the SDP answer; the channel is Up; the 2xx repeats until the ACK.
        Returns, as Asterisk's Answer() does for a ringing channel, once the first media
        packet arrives or after MEDIA_WAIT seconds without one: what the dialplan does next
        (an in-dialog NOTIFY) does not overtake the caller's ACK."""
        if self._answered or self.ended:
            return
        self._early_dialog()
        body = await self._sdp()
        if self.ended:
            return
        data = self.invite.respond(200, "OK", extra=(("Allow", ALLOW), *_sdp_headers()), body=body)
        self._answered = True
        assert self.dialog is not None
        self.dialog.confirm()
        self._ctx.channels.set_state(self.channel, ChannelState.UP)
        loop = asyncio.get_running_loop()
        self._repeat = loop.create_task(self._repeat_2xx(data))
        if self.endpoint.rtp_timeout and self.media is not None:
            self._watchdog = loop.create_task(
                watch(self.media, self.endpoint.rtp_timeout, self._silent)
            )
        if self.media is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.media.heard.wait(), MEDIA_WAIT)

    def _silent(self) -> None:
        log.warning("%s: no RTP for %d s; hanging up", self.channel.name, self.endpoint.rtp_timeout)
        self.hang_up(NORMAL_CLEARING)

    def _early_dialog(self) -> None:
        if self.dialog is None:
            self.dialog = uas_dialog(self.invite.request, self.invite.local_tag)

    async def _sdp(self) -> bytes:
        if self.media is None:
            self.media = await MediaPort.open(self.invite.local_host)
        return self._describe(self.media)

    def _describe(self, media: MediaPort) -> bytes:
        return sdp.describe(
            address=self.invite.local_host,
            port=media.port,
            payloads=self._payloads,
            session=self._session,
        )

    async def _repeat_2xx(self, data: bytes) -> None:
        """§13.3.1.4: over UDP the 2xx goes again at T1, 2*T1… up to T2 until the ACK; with
        no ACK after 64*T1 the call is ended (§13.3.1.4: send a BYE)."""
        timers = self._ctx.timers
        interval, waited = timers.t1, 0.0
        while waited < 64 * timers.t1:
            try:
                await asyncio.wait_for(self._acked.wait(), interval)
                return
            except TimeoutError:
                waited += interval
                if not self.invite.reliable:
                    self.invite.send_again(data)
                interval = min(2 * interval, timers.t2)
        log.warning("no ACK for the 200 OK of %s; hanging up", self.channel.name)
        self.hang_up(NORMAL_CLEARING)

    # -- what the peer does ----------------------------------------------------------------

    def acknowledged(self, ack: Request) -> None:
        self._acked.set()
        if self._offer is None and ack.body:
            try:
                self._offer = sdp.parse(ack.body)
            except sdp.SdpError:
                log.info("%s: unreadable SDP answer in the ACK", self.channel.name)

    def peer_hung_up(self) -> None:
        """A BYE from the phone (answered 200 by the caller of this)."""
        self._finish(NORMAL_CLEARING, send_bye=False)

    def cancelled(self) -> None:
        """§9.2: CANCEL before the final answer: 487 to the INVITE."""
        if not self._answered:
            self.invite.respond(487, "Request Terminated")
        self._finish(NORMAL_CLEARING, send_bye=False)

    def reinvite(self, invite: IncomingInvite) -> None:
        """§14.2: a re-INVITE keeps the call: the same SDP answer again."""
        if self.dialog is not None:
            self.dialog.refresh_target(invite.request)
        if self.media is None:
            invite.respond(488, "Not Acceptable Here")
            return
        body = self._describe(self.media)
        invite.respond(200, "OK", extra=(("Allow", ALLOW), *_sdp_headers()), body=body)

    # -- ending ------------------------------------------------------------------------------

    def hang_up(self, cause: int = NORMAL_CLEARING) -> None:
        """End the call from our side: a final error before the answer, a BYE after it."""
        if self.ended:
            return
        if not self._answered:
            status, reason = CAUSE_TO_SIP.get(cause, (603, "Decline"))
            self.invite.respond(status, reason)
            self._finish(cause, send_bye=False)
        else:
            self._finish(cause, send_bye=True)

    def _finish(self, cause: int, *, send_bye: bool) -> None:
        self._end(cause, send_bye=send_bye, tasks=(self._repeat, self._watchdog))


def _sdp_headers() -> tuple[tuple[str, str], ...]:
    return (("Content-Type", "application/sdp"),)

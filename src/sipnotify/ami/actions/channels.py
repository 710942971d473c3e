"""CoreShowChannels and Hangup (behaviour: show actions), over the calls layer's channels."""

from __future__ import annotations

import re

from sipnotify.ami import replies
from sipnotify.ami.actions.pjsip_show import event_list
from sipnotify.ami.channel_events import block
from sipnotify.ami.codec import AmiMessage
from sipnotify.ami.session import Action, ActionResult, AmiContext, SessionState, reply
from sipnotify.calls.call import hangup_cause
from sipnotify.calls.channels import Channel
from sipnotify.config import permissions


def core_show_channels(
    ctx: AmiContext, _session: SessionState, request: AmiMessage
) -> ActionResult:
    calls = ctx.calls
    channels = list(calls.channels)
    items = [
        ("CoreShowChannel", (*block(c), *_running(c, calls.channels.duration(c)))) for c in channels
    ]
    return event_list(request, "Channels will follow", items, "CoreShowChannelsComplete")


def _running(channel: Channel, duration: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Application", channel.application),
        ("ApplicationData", channel.app_data),
        ("Duration", duration),
        ("BridgeId", ""),
    )


def hangup(ctx: AmiContext, _session: SessionState, request: AmiMessage) -> ActionResult:
    """Hang up one channel by name, or every channel whose name matches `/regex/`."""
    name = request.get("Channel").strip()
    if not name:
        return reply(replies.error(request, "No channel specified"))
    cause = hangup_cause(request.get("Cause").strip())
    calls = ctx.calls
    if name.startswith("/") or name.endswith("/"):
        return _hangup_matching(ctx, request, name, cause)
    channel = calls.channels.get(name)
    if channel is None:
        return reply(replies.error(request, "No such channel"))
    calls.hang_up(channel, cause)
    return reply(replies.success(request, "Channel Hungup"))


def _hangup_matching(ctx: AmiContext, request: AmiMessage, text: str, cause: int) -> ActionResult:
    if len(text) < 2 or not (text.startswith("/") and text.endswith("/")):
        return reply(
            replies.error(request, "Regex format invalid, Channel param should be /regex/")
        )
    try:
        pattern = re.compile(text[1:-1])
    except re.error:
        return reply(replies.error(request, f"Regex compile failed on: {text[1:-1]}"))
    calls = ctx.calls
    matched = calls.channels.matching(pattern)
    for channel in matched:
        calls.hang_up(channel, cause)
    items = [("ChannelHungup", (("Channel", c.name),)) for c in matched]
    return event_list(
        request, "Channels hung up will follow", items, "ChannelsHungupListComplete", id_after=1
    )


ACTIONS = (
    Action(
        "CoreShowChannels",
        "List currently active channels.",
        permissions.SYSTEM | permissions.REPORTING,
        core_show_channels,
    ),
    Action(
        "Hangup",
        "Hangup channel.",
        permissions.SYSTEM | permissions.CALL,
        hangup,
    ),
)

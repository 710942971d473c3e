"""Channel fields as AMI shows them (behaviour: AMI events): the channel-state block of Newchannel,
Newstate, Hangup (with Cause and Cause-txt) and CoreShowChannel. Class `call`.
"""

from __future__ import annotations

from sipnotify.ami.codec import Fields
from sipnotify.calls.channels import CAUSES, Channel


def block(channel: Channel) -> Fields:
    return (
        ("Channel", channel.name),
        ("ChannelState", str(int(channel.state))),
        ("ChannelStateDesc", channel.state.text),
        ("CallerIDNum", channel.caller_num),
        ("CallerIDName", channel.caller_name),
        ("ConnectedLineNum", channel.connected_num),
        ("ConnectedLineName", channel.connected_name),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", channel.context),
        ("Exten", channel.exten),
        ("Priority", str(channel.priority)),
        ("Uniqueid", channel.uniqueid),
        ("Linkedid", channel.linkedid),
    )


def event_fields(name: str, channel: Channel) -> Fields:
    """The fields of a Newchannel, Newstate or Hangup event."""
    if name == "Hangup":
        cause = (("Cause", str(channel.cause)), ("Cause-txt", CAUSES.get(channel.cause, "Unknown")))
        return (*block(channel), *cause)
    return block(channel)

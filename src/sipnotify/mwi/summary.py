"""The message-summary NOTIFY's content, sans I/O (RFC 3842 §5.2, as Asterisk's
res_pjsip_mwi_body_generator writes it; behaviour: MWI):

    Messages-Waiting: yes|no
    [Message-Account: <uri>]            when a voicemail_extension applies
    Voice-Message: <new>/<old> (0/0)

each line ended by CRLF; out of a dialog the NOTIFY also says `Allow-Events: message-summary,
presence, dialog, refer`, as Asterisk's does."""

from __future__ import annotations

from sipnotify.mwi.mailboxes import Counts
from sipnotify.notify.content import NotifyContent

EVENT = "message-summary"
CONTENT_TYPE = "application/simple-message-summary"
ALLOW_EVENTS = "message-summary, presence, dialog, refer"


def body(counts: Counts, account: str = "") -> str:
    """RFC 3842 §5.2: the lamp (`Messages-Waiting`), the account, the voice counts."""
    waiting = "yes" if counts.waiting else "no"
    account_line = f"Message-Account: {account}\r\n" if account else ""
    return (f"Messages-Waiting: {waiting}\r\n{account_line}"
            f"Voice-Message: {counts.new}/{counts.old} (0/0)\r\n")  # fmt: skip


def unsolicited(counts: Counts, account: str = "") -> NotifyContent:
    """An out-of-dialog message-summary NOTIFY's headers and body."""
    return NotifyContent(headers=(("Event", EVENT), ("Allow-Events", ALLOW_EVENTS)),
                         content_type=CONTENT_TYPE, body=body(counts, account))  # fmt: skip


def in_dialog(counts: Counts, account: str = "") -> NotifyContent:
    """A subscription's NOTIFY: the same headers and body, inside its dialog."""
    return unsolicited(counts, account)

"""Mailbox state on its own: counts, device-state changes, regexes, and the summary body."""

from __future__ import annotations

from pathlib import Path

from sipnotify.mwi import summary
from sipnotify.mwi.mailboxes import Counts, Mailboxes, unsigned
from sipnotify.storage.sqlite_mailboxes import SqliteMailboxStore


def test_counts_survive_a_restart(tmp_path: Path) -> None:
    store = SqliteMailboxStore(tmp_path / "contacts.sqlite3")
    boxes = Mailboxes(store)
    change = boxes.update("1000@default", Counts(2, 1))
    assert (change.counts, change.device_changed) == (Counts(2, 1), True)
    assert not boxes.update("1000@default", Counts(3, 1)).device_changed
    boxes.update("1001@default", Counts(0, 4))
    store.close()
    again = Mailboxes(SqliteMailboxStore(tmp_path / "contacts.sqlite3"))
    assert again.counts("1000@default") == Counts(3, 1)
    assert [name for name, _ in again.find("/^100/")] == ["1000@default", "1001@default"]
    assert again.find("/[/") == []
    assert again.counts("nope") == Counts()
    deleted = again.delete("/.*/")
    assert [(c.mailbox, c.counts, c.device_changed) for c in deleted] == [
        ("1000@default", Counts(), True),
        ("1001@default", Counts(), False),
    ]
    assert again.delete("1000@default") == []


def test_waiting_in_use_and_unsigned() -> None:
    assert (Counts(-1, 0).waiting, Counts(-1, 0).in_use) == (True, False)
    assert (Counts(0, 3).waiting, Counts(2, 0).in_use) == (False, True)
    assert unsigned(-1) == 4294967295
    assert Counts(1, 2) + Counts(2, 0) == Counts(3, 2)


def test_the_message_summary_as_asterisk_writes_it() -> None:
    assert summary.body(Counts(2, 1)) == "Messages-Waiting: yes\r\nVoice-Message: 2/1 (0/0)\r\n"
    assert len(summary.body(Counts())) == 48  # as captured
    assert summary.body(Counts(0, 3), "sip:1000@127.0.0.1:5060") == (
        "Messages-Waiting: no\r\nMessage-Account: sip:1000@127.0.0.1:5060\r\n"
        "Voice-Message: 0/3 (0/0)\r\n"
    )
    content = summary.unsolicited(Counts(2, 1))
    assert content.headers == (
        ("Event", "message-summary"),
        ("Allow-Events", "message-summary, presence, dialog, refer"),
    )
    assert content.content_type == "application/simple-message-summary"


def test_another_nodes_change_is_taken_without_writing(tmp_path: Path) -> None:
    store = SqliteMailboxStore(tmp_path / "contacts.sqlite3")
    boxes = Mailboxes(store)
    boxes.update("1000@default", Counts(0, 1))
    taken = boxes.take("1000@default", Counts(2, 1))
    assert taken is not None
    assert (taken.counts, taken.device_changed) == (Counts(2, 1), True)
    assert boxes.take("1000@default", Counts(2, 1)) is None  # already known
    gone = boxes.take("1000@default", None)
    assert gone is not None
    assert (gone.counts, gone.device_changed) == (Counts(), True)
    assert boxes.take("1000@default", None) is None
    assert dict(store.load()) == {"1000@default": (0, 1)}  # nothing written
    store.close()

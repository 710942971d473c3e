"""The subscription store interface: MWI subscriptions kept as Asterisk persists them (its
`subscription_persistence` object: the SUBSCRIBE that made the subscription, where it came
from, our tag and the NOTIFYs' CSeq, the expiry), so they outlive a restart, and in a cluster
the death of the node that held them. `tests/storage/test_subscriptions.py` is the contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: str
    packet: str  # the SUBSCRIBE that made the subscription, as received
    src_name: str  # where it came from
    src_port: int
    transport: str  # udp, tcp or tls
    local_name: str  # where it came to
    local_port: int
    cseq: int  # our NOTIFYs' CSeq when last stored
    tag: str  # our tag in the dialog
    endpoint: str
    expires: int  # unix seconds
    contact_uri: str  # our Contact, as the subscriber reaches us


class SubscriptionStore(Protocol):
    def load(self) -> list[SubscriptionRecord]:
        """This node's subscriptions (in the embedded store, every one), expired included."""
        ...

    def save(self, record: SubscriptionRecord) -> None:
        """Add or replace the record (by id), durably. Raises StorageError."""
        ...

    def refresh(self, subscription_id: str, cseq: int, expires: int) -> None:
        """A refresh: the new expiry and the CSeq reached (nothing when unknown). Raises
        StorageError."""
        ...

    def drop(self, subscription_id: str) -> None:
        """Forget the record (nothing when unknown). Raises StorageError."""
        ...

    def close(self) -> None: ...

"""PostgreSQL subscription store: Asterisk's `ps_subscription_persistence` (made by `sipnotify
db upgrade` when missing), when sorcery.conf maps `subscription_persistence = realtime,
ps_subscription_persistence` in `[res_pjsip_pubsub]`, as Asterisk's does. Which node holds
each subscription is kept beside it in `sipnotify_subscriptions` (Asterisk's table has no
place for it): a node loads its own, and `take_over` moves a dead node's to this one
(cluster/watch.py decides when). Every statement parameterised, every failure a StorageError
naming the database."""

from __future__ import annotations

from sipnotify.storage.pg_connection import PgConnection
from sipnotify.storage.subscriptions import SubscriptionRecord

_COLUMNS = ("p.id, p.packet, p.src_name, p.src_port, p.transport_key, p.local_name, "
            "p.local_port, p.cseq, p.tag, p.endpoint, p.expires, p.contact_uri")  # fmt: skip
_SAVE = """INSERT INTO ps_subscription_persistence (id, packet, src_name, src_port,
    transport_key, local_name, local_port, cseq, tag, endpoint, expires, contact_uri,
    prune_on_boot) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'no')
    ON CONFLICT (id) DO UPDATE SET packet = EXCLUDED.packet, src_name = EXCLUDED.src_name,
    src_port = EXCLUDED.src_port, transport_key = EXCLUDED.transport_key,
    local_name = EXCLUDED.local_name, local_port = EXCLUDED.local_port, cseq = EXCLUDED.cseq,
    tag = EXCLUDED.tag, endpoint = EXCLUDED.endpoint, expires = EXCLUDED.expires,
    contact_uri = EXCLUDED.contact_uri"""
_OWN = """INSERT INTO sipnotify_subscriptions (id, owner) VALUES (%s, %s)
    ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner"""


class PgSubscriptionStore:
    what = "MWI subscriptions"

    def __init__(self, conninfo: str, where: str, *, systemname: str) -> None:
        self._db = PgConnection(conninfo, where)
        self._owner = systemname

    def load(self) -> list[SubscriptionRecord]:
        with self._db.use() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM ps_subscription_persistence p JOIN "
                              "sipnotify_subscriptions s ON s.id = p.id WHERE s.owner = %s "
                              "ORDER BY p.id", (self._owner,)).fetchall()  # fmt: skip
        return [_record(row) for row in rows]

    def save(self, record: SubscriptionRecord) -> None:
        r = record
        with self._db.transaction() as db:
            db.execute(_SAVE, (r.id, r.packet, r.src_name, r.src_port, r.transport,
                               r.local_name, r.local_port, r.cseq, r.tag, r.endpoint,
                               r.expires, r.contact_uri))  # fmt: skip
            db.execute(_OWN, (r.id, self._owner))

    def refresh(self, subscription_id: str, cseq: int, expires: int) -> None:
        with self._db.use() as db:
            db.execute("UPDATE ps_subscription_persistence SET cseq = %s, expires = %s "
                       "WHERE id = %s", (cseq, expires, subscription_id))  # fmt: skip

    def drop(self, subscription_id: str) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM ps_subscription_persistence WHERE id = %s",
                       (subscription_id,))  # fmt: skip
            db.execute("DELETE FROM sipnotify_subscriptions WHERE id = %s", (subscription_id,))

    def owners(self) -> list[str]:
        """The other nodes that hold subscriptions."""
        with self._db.use() as db:
            rows = db.execute("SELECT DISTINCT owner FROM sipnotify_subscriptions "
                              "WHERE owner <> %s", (self._owner,)).fetchall()  # fmt: skip
        return [str(row[0]) for row in rows]

    def take_over(self, owner: str) -> int:
        """Make `owner`'s subscriptions this node's; returns how many."""
        with self._db.use() as db:
            cursor = db.execute("UPDATE sipnotify_subscriptions SET owner = %s WHERE owner = %s",
                                (self._owner, owner))  # fmt: skip
        return cursor.rowcount

    def close(self) -> None:
        self._db.close()


def _record(row: tuple[object, ...]) -> SubscriptionRecord:
    texts = ["" if value is None else str(value) for value in row]
    return SubscriptionRecord(texts[0], texts[1], texts[2], int(texts[3] or 0), texts[4],
                              texts[5], int(texts[6] or 0), int(texts[7] or 0), texts[8],
                              texts[9], int(texts[10] or 0), texts[11])  # fmt: skip

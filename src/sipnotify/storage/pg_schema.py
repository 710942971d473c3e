"""The PostgreSQL schema: its migrations, applied by `sipnotify db upgrade`, and the check every
node makes before it uses a database.

Asterisk's tables (`ps_contacts`) are created only when missing, with the columns Asterisk's
own migrations give them, so sipnotify can share a database an Asterisk deployment already
made. sipnotify's own tables carry a version in `sipnotify_schema`; a node refuses to start on
a database whose version differs from its own, or whose `ps_contacts` lacks a column it writes
(naming what is wrong), rather than half-write rows. Migrations run in one transaction under an
advisory lock, so two nodes upgrading at once apply each step once.
"""

from __future__ import annotations

import secrets

import psycopg

from sipnotify.storage.base import StorageError

_LOCK = 0x5195_0001  # the advisory lock upgrades hold
_PS_CONTACTS_COLUMNS = (
    "id", "uri", "expiration_time", "qualify_frequency", "outbound_proxy", "path", "user_agent",
    "qualify_timeout", "reg_server", "authenticate_qualify", "via_addr", "via_port", "call_id",
    "endpoint", "prune_on_boot", "qualify_2xx_only",
)  # fmt: skip
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: Asterisk's ps_contacts (when missing) and what sipnotify keeps beside it
        """DO $$ BEGIN
            CREATE TYPE ast_bool_values
                AS ENUM ('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes');
        EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
        """CREATE TABLE IF NOT EXISTS ps_contacts (
            id varchar(255) NOT NULL, uri varchar(511), expiration_time bigint,
            qualify_frequency integer, outbound_proxy varchar(255), path text,
            user_agent varchar(255), qualify_timeout double precision, reg_server varchar(255),
            authenticate_qualify ast_bool_values, via_addr varchar(40), via_port integer,
            call_id varchar(255), endpoint varchar(255), prune_on_boot ast_bool_values,
            qualify_2xx_only ast_bool_values)""",
        "CREATE UNIQUE INDEX IF NOT EXISTS ps_contacts_id ON ps_contacts (id)",
        """CREATE TABLE sipnotify_contacts (
            id varchar(255) PRIMARY KEY, aor varchar(255) NOT NULL, cseq integer NOT NULL,
            protocol varchar(8) NOT NULL, expires double precision NOT NULL)""",
        """CREATE TABLE sipnotify_mailboxes (
            id varchar(255) PRIMARY KEY, new bigint NOT NULL, old bigint NOT NULL)""",
    ),
    (  # 2: Asterisk's configuration tables (when missing), with the columns sipnotify reads;
        # Asterisk's migrations make them with every column, which works as well
        """DO $$ BEGIN CREATE TYPE yesno_values AS ENUM ('yes', 'no');
        EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
        """CREATE TABLE IF NOT EXISTS ps_endpoints (
            id varchar(255) PRIMARY KEY, transport varchar(40), aors varchar(2048),
            auth varchar(255), context varchar(40), outbound_auth varchar(255),
            outbound_proxy varchar(256), rewrite_contact yesno_values, force_rport yesno_values,
            from_user varchar(40), from_domain varchar(40), identify_by varchar(80),
            contact_user varchar(80), user_eq_phone yesno_values, rtp_timeout integer,
            mailboxes varchar(40), aggregate_mwi yesno_values, mwi_from_user varchar(255),
            mwi_subscribe_replaces_unsolicited ast_bool_values,
            voicemail_extension varchar(40), sub_min_expiry integer)""",
        """CREATE TABLE IF NOT EXISTS ps_aors (
            id varchar(255) PRIMARY KEY, contact varchar(255), default_expiration integer,
            max_contacts integer, minimum_expiration integer, maximum_expiration integer,
            remove_existing yesno_values, qualify_frequency integer, support_path yesno_values,
            mailboxes varchar(80), voicemail_extension varchar(40))""",
        """CREATE TABLE IF NOT EXISTS ps_auths (
            id varchar(255) PRIMARY KEY, auth_type varchar(40), nonce_lifetime integer,
            md5_cred varchar(40), password varchar(80), realm varchar(255),
            username varchar(40))""",
        """CREATE TABLE IF NOT EXISTS ps_endpoint_id_ips (
            id varchar(255) PRIMARY KEY, endpoint varchar(255), match varchar(80),
            srv_lookups yesno_values, match_header varchar(255))""",
    ),
    (  # 3: keys every node shares (the digest nonce key), made once by whoever comes first
        """CREATE TABLE sipnotify_keys (
            name varchar(40) PRIMARY KEY, value bytea NOT NULL)""",
    ),
    (  # 4: one registration's change in one call (one round trip, one implicit transaction),
        # given as one JSON document (cheap to send): the AORs locked in the order given, the
        # dropped rows deleted, the stored ones upserted as Asterisk writes them, the other
        # nodes told
        """CREATE OR REPLACE FUNCTION sipnotify_change_contacts(node text, change json)
        RETURNS void LANGUAGE plpgsql AS $$
        DECLARE one text;
        BEGIN
            FOR one IN SELECT json_array_elements_text(change->'aors') LOOP
                PERFORM pg_advisory_xact_lock(1368719362, hashtext(one));
            END LOOP;
            DELETE FROM ps_contacts
                WHERE id IN (SELECT json_array_elements_text(change->'dropped'));
            DELETE FROM sipnotify_contacts
                WHERE id IN (SELECT json_array_elements_text(change->'dropped'));
            INSERT INTO ps_contacts (id, uri, expiration_time, qualify_frequency,
                outbound_proxy, path, user_agent, qualify_timeout, reg_server,
                authenticate_qualify, via_addr, via_port, call_id, endpoint, prune_on_boot,
                qualify_2xx_only)
            SELECT r.id, r.uri, r.expiration, 0, '', r.path, r.agent, 3.0, r.server, 'no',
                r.via_addr, r.via_port, r.call_id, r.endpoint, 'no', 'no'
            FROM json_to_recordset(change->'rows') AS r(id text, uri text, expiration bigint,
                path text, agent text, server text, via_addr text, via_port integer,
                call_id text, endpoint text, aor text, cseq integer, protocol text,
                expires double precision)
            ON CONFLICT (id) DO UPDATE SET uri = EXCLUDED.uri,
                expiration_time = EXCLUDED.expiration_time, path = EXCLUDED.path,
                user_agent = EXCLUDED.user_agent, reg_server = EXCLUDED.reg_server,
                via_addr = EXCLUDED.via_addr, via_port = EXCLUDED.via_port,
                call_id = EXCLUDED.call_id, endpoint = EXCLUDED.endpoint;
            INSERT INTO sipnotify_contacts (id, aor, cseq, protocol, expires)
            SELECT r.id, r.aor, r.cseq, r.protocol, r.expires
            FROM json_to_recordset(change->'rows') AS r(id text, aor text, cseq integer,
                protocol text, expires double precision)
            ON CONFLICT (id) DO UPDATE SET aor = EXCLUDED.aor, cseq = EXCLUDED.cseq,
                protocol = EXCLUDED.protocol, expires = EXCLUDED.expires;
            FOR one IN SELECT json_array_elements_text(change->'aors') LOOP
                IF (change->>'limit')::int > 0 AND (SELECT count(*) FROM sipnotify_contacts s
                        JOIN ps_contacts c ON c.id = s.id WHERE s.aor = one
                        AND c.expiration_time > (change->>'now')::double precision)
                        > (change->>'limit')::int THEN
                    RAISE EXCEPTION 'AOR % would hold more than % contacts',
                        one, change->>'limit' USING ERRCODE = 'SN409';
                END IF;
                PERFORM pg_notify('sipnotify_contacts', node || ' ' || one);
            END LOOP;
        END $$""",
    ),
    (  # 5: fleet jobs, each owned by the node running it, and their phones
        """CREATE TABLE sipnotify_jobs (
            id varchar(64) PRIMARY KEY, owner varchar(255) NOT NULL, ord text NOT NULL,
            selection text NOT NULL, created_at double precision NOT NULL,
            start_at double precision NOT NULL, deadline double precision NOT NULL,
            state varchar(16) NOT NULL, rate double precision NOT NULL,
            in_flight integer NOT NULL, per_address integer NOT NULL,
            jitter double precision NOT NULL, action_id text NOT NULL)""",
        "CREATE INDEX sipnotify_jobs_owner ON sipnotify_jobs (owner, state)",
        """CREATE TABLE sipnotify_job_phones (
            job_id varchar(64) NOT NULL REFERENCES sipnotify_jobs (id) ON DELETE CASCADE,
            seq integer NOT NULL, uri text NOT NULL, endpoint text NOT NULL, aor text NOT NULL,
            state varchar(16) NOT NULL, status integer, attempts integer NOT NULL,
            updated_at double precision NOT NULL, next_at double precision NOT NULL,
            user_agent_before text NOT NULL, user_agent_after text NOT NULL,
            call_id_before text NOT NULL, PRIMARY KEY (job_id, uri))""",
    ),
    (  # 6: Asterisk's ps_subscription_persistence (when missing), which node holds each, and
        # an index for counting an AOR's contacts
        """CREATE TABLE IF NOT EXISTS ps_subscription_persistence (
            id varchar(40) NOT NULL UNIQUE, packet varchar(2048), src_name varchar(128),
            src_port integer, transport_key varchar(64), local_name varchar(128),
            local_port integer, cseq integer, tag varchar(128), endpoint varchar(40),
            expires integer, contact_uri varchar(256), prune_on_boot ast_bool_values)""",
        """CREATE TABLE sipnotify_subscriptions (
            id varchar(40) PRIMARY KEY, owner varchar(255) NOT NULL)""",
        "CREATE INDEX sipnotify_subscriptions_owner ON sipnotify_subscriptions (owner)",
        # the limit check of sipnotify_change_contacts counts one AOR's contacts
        "CREATE INDEX sipnotify_contacts_aor ON sipnotify_contacts (aor)",
    ),
)
VERSION = len(MIGRATIONS)


def upgrade(conninfo: str, where: str) -> tuple[int, int]:
    """Apply the missing migrations; returns the versions before and after."""
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS sipnotify_schema (version integer NOT NULL)")
            before = _version(db)
            for statements in MIGRATIONS[before:]:
                for statement in statements:
                    db.execute(statement)
            db.execute("DELETE FROM sipnotify_schema")
            db.execute("INSERT INTO sipnotify_schema (version) VALUES (%s)", (VERSION,))
    except psycopg.Error as exc:
        raise StorageError(f"{where}: {reason(exc)}") from exc
    return before, VERSION


def check(db: psycopg.Connection[tuple[object, ...]], where: str) -> None:
    """Raise StorageError unless the database is at this version with Asterisk's columns."""
    exists = db.execute("SELECT to_regclass('sipnotify_schema') IS NOT NULL").fetchone()
    found = _version(db) if exists and exists[0] else 0
    if found != VERSION:
        raise StorageError(f"{where}: the schema is at version {found}, this sipnotify needs "
                           f"{VERSION}: run `sipnotify db upgrade`")  # fmt: skip
    rows = db.execute("SELECT column_name FROM information_schema.columns "
                      "WHERE table_name = 'ps_contacts'").fetchall()  # fmt: skip
    missing = sorted(set(_PS_CONTACTS_COLUMNS) - {str(row[0]) for row in rows})
    if missing:
        raise StorageError(f"{where}: ps_contacts has no column {', '.join(missing)}: "
                           "is it Asterisk's table?")  # fmt: skip


def _version(db: psycopg.Connection[tuple[object, ...]]) -> int:
    row = db.execute("SELECT max(version) FROM sipnotify_schema").fetchone()
    return int(str(row[0])) if row and row[0] is not None else 0


def reason(exc: psycopg.Error) -> str:
    """An error's first line (psycopg's messages name no password)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def shared_key(db: psycopg.Connection[tuple[object, ...]], name: str) -> bytes:
    """The key every node uses for `name`: 32 random bytes, made by the first node that
    asks (the others' proposals are dropped)."""
    db.execute("INSERT INTO sipnotify_keys (name, value) VALUES (%s, %s) "
               "ON CONFLICT (name) DO NOTHING", (name, secrets.token_bytes(32)))  # fmt: skip
    row = db.execute("SELECT value FROM sipnotify_keys WHERE name = %s", (name,)).fetchone()
    value = row[0] if row is not None else None
    if not isinstance(value, bytes):
        raise StorageError(f"sipnotify_keys has no usable {name}")
    return value

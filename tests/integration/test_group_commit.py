"""Registrations arriving together are stored together: 100 phones from SIPp registering with
digest at 1,000 a second (many in each loop turn, each phone twice), on SQLite and on
PostgreSQL (whose commits run on a helper thread); every REGISTER is answered 200 and each
phone's one contact is stored, in Asterisk's rows on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.integration.conftest import StartService, Uas, admin_conf
from tests.integration.test_cluster import SORCERY, contacts

PHONES = 100
UDP = "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
PJSIP = (
    UDP
    + "[fleet-auth]\ntype=auth\nusername=bob\npassword=secret\n"
    + "".join(
        f"[p{n}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n"
        f"[p{n}]\ntype=endpoint\naors=p{n}\nauth=fleet-auth\n"
        for n in range(PHONES)
    )
)


def realtime(dsn: str) -> dict[str, str]:
    found = dict(part.split("=", 1) for part in dsn.split())
    return {"sorcery.conf": SORCERY, "extconfig.conf": "[settings]\nps_contacts => pgsql,general\n",
            "res_pgsql.conf": f"[general]\ndbhost = {found['host']}\ndbport = {found['port']}\n"
                              f"dbname = {found['dbname']}\ndbuser = {found['user']}\n",
            "asterisk.conf": "[options]\nsystemname = node-a\n"}  # fmt: skip


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_fleet_registering_at_once_is_answered_and_stored(
    store: str, start_service: StartService, uas: Uas, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    dsn = request.getfixturevalue("postgres").new_database() if store == "postgres" else ""
    service = start_service(
        admin_conf(), files={"pjsip.conf": PJSIP, **(realtime(dsn) if dsn else {})}
    )
    users = tmp_path / "phones.csv"
    users.write_text("SEQUENTIAL\n" + "".join(f"p{n};\n" for n in range(PHONES)))
    fleet = uas("uac_register_fleet.xml", calls=2 * PHONES, remote=service.sip_port(), extra=(
        "-inf", str(users), "-r", "1000", "-set", "expires", "600", "-au", "bob", "-ap", "secret",
    ))  # fmt: skip
    assert fleet.finish(timeout=60) == 0, fleet.output
    listed = contacts(service)
    assert sorted(uri.partition("@")[0] for uri, _ in listed) == sorted(
        f"sip:p{n}" for n in range(PHONES))  # fmt: skip
    if dsn:
        with psycopg.connect(dsn) as db:
            rows = db.execute("SELECT count(*), min(reg_server) FROM ps_contacts").fetchone()
        assert rows == (PHONES, "node-a")

"""Several nodes behind a real Kamailio edge proxy (dispatcher and Path), on a real
PostgreSQL. The edge deals requests out in turn, so each phone's REGISTER is challenged by one
node and answered to the other (the nodes share the nonce key); a NOTIFY from either node
reaches every phone along the Path the edge recorded — how phones behind NAT or on TCP are
reached from every node, as with Asterisk realtime. The phones give a Contact no node can
reach (192.0.2.1, as behind NAT): only the edge, which saw where they really are, can."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import StartService, Uas, admin_conf
from tests.integration.kamailio import edge
from tests.integration.ports import free_port
from tests.integration.sipp import SCENARIOS, header
from tests.integration.test_cluster import contacts, files
from tests.integration.test_pjsip_notify import result
from tests.integration.test_registrar import PJSIP, notify
from tests.storage.postgres import Server as Postgres


def test_phones_behind_the_edge_are_reached_from_every_node(
    start_service: StartService, uas: Uas, postgres: Postgres, tmp_path: Path
) -> None:
    dsn = postgres.new_database()
    pjsip = PJSIP.replace("max_contacts=2\n", "max_contacts=2\nsupport_path=yes\n")
    a, b = (start_service(admin_conf(), files={**files(dsn, name), "pjsip.conf": pjsip})
            for name in ("node-a", "node-b"))  # fmt: skip
    with edge(tmp_path / "edge", [a.sip_port(), b.sip_port()]) as kamailio:
        phones = []
        for _ in range(2):  # challenged by one node, answered to the other
            port = free_port()
            reg = uas("uac_register.xml", port=port, extra=(
                f"127.0.0.1:{kamailio.port}", "-set", "user", "bob",
                "-set", "contact", f"sip:bob@192.0.2.1:{port}", "-set", "expires", "600",
                "-au", "bob", "-ap", "secret", "-d", "0",
                "-oocsf", str(SCENARIOS / "uas_notify.xml")))  # fmt: skip
            assert reg.finish() == 0, reg.output + kamailio.log()
            phones.append(port)
        listed = sorted(contacts(a))
        assert len(listed) == 2
        assert {server for _, server in listed} <= {"node-a", "node-b"}
        assert sorted(contacts(b)) == listed
        assert kamailio.log().count("EDGE REGISTER from") == 4
        for node in (a, b):
            receivers = [uas("uas_notify.xml", port=port) for port in phones]
            events = notify(node, "bob")
            assert sorted(result(e, "Result") for e in events[:-1]) == ["Success", "Success"], (
                b"".join(events).decode()
            )
            for receiver in receivers:
                assert receiver.finish() == 0, receiver.output
                (notified,) = [m for m in receiver.received() if m.startswith(b"NOTIFY ")]
                assert header(notified, "Via")[0].startswith(
                    f"SIP/2.0/UDP 127.0.0.1:{kamailio.port}"
                )
        assert kamailio.log().count("EDGE NOTIFY from") == 4

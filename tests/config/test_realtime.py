"""sorcery.conf, extconfig.conf and res_pgsql.conf read as Asterisk realtime reads them."""

from __future__ import annotations

import pytest

from sipnotify.config.parser import ConfigError, parse_text
from sipnotify.config.realtime import (
    Connection,
    ObjectType,
    OwnTable,
    Realtime,
    load_realtime,
    realtime_sections,
)

SORCERY = """[res_pjsip]
endpoint = config,pjsip.conf,criteria=type=endpoint
endpoint = realtime,ps_endpoints
contact = realtime,ps_contacts
[res_pjsip_endpoint_identifier_ip]
identify = realtime,ps_endpoint_id_ips
"""
EXTCONFIG = """[settings]
ps_endpoints => pgsql,general
ps_contacts => pgsql,general
ps_endpoint_id_ips => pgsql,general
sipnotify_mailboxes => pgsql,general
"""
OLD_SPELLING = """[general]
dbhost = 10.0.0.5
dbport = 5433
dbname = asterisk
dbuser = ast
dbpass = it's\\secret
requirements = warn
"""


def load(sorcery: str, extconfig: str = EXTCONFIG, pgsql: str = OLD_SPELLING) -> Realtime:
    return load_realtime(parse_text(sorcery, name="sorcery.conf"),
                         parse_text(extconfig, name="extconfig.conf"),
                         parse_text(pgsql, name="res_pgsql.conf"))[0]  # fmt: skip


def test_tables_and_connection_as_asterisk_spells_them() -> None:
    realtime = load(SORCERY)
    assert realtime.table(ObjectType.CONTACT) == "ps_contacts"
    assert realtime.table(ObjectType.ENDPOINT) == "ps_endpoints"
    assert realtime.table(ObjectType.IDENTIFY) == "ps_endpoint_id_ips"
    assert realtime.table(ObjectType.AUTH) is None  # stays in pjsip.conf
    assert realtime.own == frozenset({OwnTable.MAILBOXES})
    assert realtime.connection.conninfo() == (
        "host='10.0.0.5' port='5433' dbname='asterisk' user='ast' password='it\\'s\\\\secret'"
    )
    assert realtime.connection.describe() == "PostgreSQL ast@10.0.0.5:5433/asterisk"


def test_subscription_persistence_is_mapped_as_in_asterisk() -> None:
    pubsub = "[res_pjsip_pubsub]\nsubscription_persistence = realtime,ps_subscription_persistence\n"
    realtime = load(SORCERY + pubsub, EXTCONFIG + "ps_subscription_persistence => pgsql,general\n")
    assert realtime.table(ObjectType.SUBSCRIPTION_PERSISTENCE) == "ps_subscription_persistence"
    assert load(SORCERY).table(ObjectType.SUBSCRIPTION_PERSISTENCE) is None
    with pytest.raises(ConfigError, match="ps_subscription_persistence"):  # no extconfig line
        load(SORCERY + pubsub)


def test_the_23_spelling_of_the_connection() -> None:
    pgsql = "[general]\nhostname=db\nport=5432\ndbname=a\nuser=u\npassword=p\n"
    assert load(SORCERY, pgsql=pgsql).connection == Connection(
        (("host", "db"), ("port", "5432"), ("dbname", "a"), ("user", "u"), ("password", "p"))
    )


def test_no_realtime_is_the_embedded_store() -> None:
    assert not load("", "", "").used
    assert not load("[res_pjsip]\ncontact = config,pjsip.conf\n", "", "").used


@pytest.mark.parametrize(
    ("sorcery", "extconfig", "pgsql", "error"),
    [
        ("[res_pjsip]\ncontact = realtime,ps_contacts\n", "[settings]\n", OLD_SPELLING,
         "sorcery.conf:2: contact = realtime,ps_contacts: extconfig.conf maps no table"),
        ("[res_pjsip]\ncontact = realtime,ps_contacts\n",
         "[settings]\nps_contacts => odbc,asterisk\n", OLD_SPELLING,
         "extconfig.conf:2: ps_contacts: driver 'odbc' is not supported"),
        ("[res_pjsip]\ncontact = realtime\n", EXTCONFIG, OLD_SPELLING,
         "sorcery.conf:2: realtime needs a table"),
        ("[res_pjsip]\ncontact = carrier-pigeon,x\n", EXTCONFIG, OLD_SPELLING,
         "sorcery.conf:2: unknown sorcery wizard 'carrier-pigeon'"),
        ("[res_pjsip]\ncontact = realtime,ps_contacts\n", EXTCONFIG, "",
         "res_pgsql.conf: realtime is configured but res_pgsql.conf has no [general]"),
        ("[res_pjsip]\ncontact = realtime,ps_contacts\n", EXTCONFIG, "[general]\ndbport = x\n",
         "res_pgsql.conf:2:"),
    ],
)  # fmt: skip
def test_a_mapping_that_cannot_be_served_is_an_error(
    sorcery: str, extconfig: str, pgsql: str, error: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(sorcery, extconfig, pgsql)
    assert str(caught.value).startswith(error)


def test_unknown_lines_are_warnings() -> None:
    _, warnings = load_realtime(
        parse_text("[res_pjsip]\nchannel = realtime,x\n", name="sorcery.conf"),
        parse_text("[settings]\nsippeers => pgsql,general\n", name="extconfig.conf"),
        parse_text("", name="res_pgsql.conf"),
    )
    assert [str(w) for w in warnings] == [
        "sorcery.conf:2: unknown object type 'channel'",
        "extconfig.conf:2: sippeers: no object is kept in this table",
    ]


def test_objects_kept_in_tables_become_sections() -> None:
    sorcery = (
        "[res_pjsip]\nendpoint = realtime,ps_endpoints\n"
        "[res_pjsip_endpoint_identifier_ip]\nidentify = realtime,ps_endpoint_id_ips\n"
    )
    realtime = load(sorcery)
    tables = {
        "ps_endpoints": [{"id": "bob", "aors": "bob", "from_user": "a;b^"},
                         {"id": "evil", "from_user": "x\r\nInjected: yes"}],
        "ps_endpoint_id_ips": [{"id": "gw", "endpoint": "bob", "match": "10.0.0.1"}],
    }  # fmt: skip
    read: list[str] = []

    def rows(connection: Connection, table: str) -> list[dict[str, str]]:
        assert connection == realtime.connection
        read.append(table)
        return tables[table]

    sections, warnings = realtime_sections(realtime, rows)
    assert read == ["ps_endpoints", "ps_endpoint_id_ips"]
    assert [(s.name, [(i.key, i.value) for i in s.items]) for s in sections] == [
        ("bob", [("type", "endpoint"), ("aors", "bob"), ("from_user", "a;b^")]),
        ("gw", [("type", "identify"), ("endpoint", "bob"), ("match", "10.0.0.1")]),
    ]
    assert [str(w) for w in warnings] == [
        "ps_endpoints id 'evil': row left out: empty id or a control character"
    ]

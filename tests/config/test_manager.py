"""manager.conf and acl.conf into the manager model (behaviour: config)."""

from __future__ import annotations

import pytest

from sipnotify.config import permissions
from sipnotify.config.manager import ManagerConfig, load_manager, named_acls
from sipnotify.config.parser import ConfigError, parse_text


def manager(text: str, acl_text: str = "") -> tuple[ManagerConfig, list[str]]:
    acls, _ = named_acls(parse_text(acl_text, name="acl.conf"))
    config, warnings = load_manager(parse_text(text, name="manager.conf"), acls)
    return config, [str(w) for w in warnings]


def test_defaults_are_asterisks() -> None:
    config, _ = manager("")
    general = config.general
    assert (general.enabled, general.port, general.authtimeout, general.authlimit) == (
        False,
        5038,
        30,
        50,
    )
    assert general.allowmultiplelogin
    assert general.displayconnects
    assert not general.timestampevents
    assert not general.brokeneventsaction


def test_general_options_and_testsuite_user() -> None:
    config, warnings = manager(
        "[general]\nenabled=yes\nport=15038\nbindaddr=127.0.0.1\nauthtimeout=5\nauthlimit=7\n"
        "allowmultiplelogin=no\ntimestampevents=yes\ndisplayconnects=no\n"
        "[User]\nsecret = mysecret\n"
        "read = system,call,log,verbose,agent,user,config,dtmf,reporting,cdr,dialplan,test,agi\n"
        "write = system,call,agent,user,config,command,reporting,originate,agi,message,aoc\n"
    )
    assert warnings == []
    g = config.general
    assert (g.enabled, g.port, g.bindaddr, g.authtimeout, g.authlimit) == (
        True,
        15038,
        "127.0.0.1",
        5,
        7,
    )
    assert not g.allowmultiplelogin
    assert g.timestampevents
    assert not g.displayconnects
    user = config.user("user")
    assert user is not None
    assert user.name == "User"
    assert user.secret == "mysecret"
    assert user.writeperm & permissions.SYSTEM
    assert user.readperm & permissions.TEST
    assert not user.writeperm & permissions.LOG
    assert not user.allowmultiplelogin
    assert not user.displayconnects


def test_user_overrides_and_repeated_sections_merge() -> None:
    config, _ = manager(
        "[general]\nallowmultiplelogin=no\n[a]\nsecret=1\nallowmultiplelogin=yes\n"
        "writetimeout=250\n[a]\nsecret=2\nread=all\n"
    )
    user = config.user("A")
    assert user is not None
    assert (user.secret, user.allowmultiplelogin, user.writetimeout_ms) == ("2", True, 250)
    assert user.readperm == permissions.ALL


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("[general]\nport = 80\n", 2, "port = 80 is out of range (1024 to 65535)"),
        ("[general]\n\nport = five\n", 3, "port = 'five' is not a number"),
        ("[general]\nauthtimeout = 0\n", 2, "authtimeout = 0 is out of range"),
        ("[general]\nauthlimit = -1\n", 2, "authlimit = -1 is out of range"),
        ("[general]\nenabled = maybe\n", 2, "enabled = 'maybe' is not yes or no"),
        ("[general]\nbindaddr = example\n", 2, "is not an IP address"),
        ("[u]\nsecret=x\npermit = 300.1.1.1\n", 3, "'300.1.1.1' is not an address"),
        ("[u]\nwritetimeout = 50\n", 2, "writetimeout = 50 is out of range"),
    ],
)
def test_invalid_values_stop_with_file_and_line(text: str, line: int, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        manager(text)
    assert str(caught.value).startswith(f"manager.conf:{line}: ")
    assert needle in str(caught.value)


def test_unknown_options_and_classes_warn_with_file_and_line() -> None:
    _, warnings = manager("[general]\nfrobnicate=1\nchannelvars=x\n[u]\nsecret=s\nread=sys,call\n")
    assert warnings == [
        "manager.conf:2: unknown option 'frobnicate' in [general]",
        "manager.conf:3: 'channelvars' is not supported; ignored",
        "manager.conf:6: unknown class 'sys' in read; ignored",
    ]


def test_webenabled_and_httptimeout() -> None:
    config, _ = manager("[general]\n")
    assert (config.general.webenabled, config.general.httptimeout) == (False, 60)
    config, _ = manager("[general]\nwebenabled = yes\nhttptimeout = 300\n")
    assert (config.general.webenabled, config.general.httptimeout) == (True, 300)


def test_user_without_secret_warns() -> None:
    config, warnings = manager("[nobody]\nread=all\n")
    assert warnings == ["manager.conf:1: user 'nobody' has no secret and cannot log in"]
    user = config.user("nobody")
    assert user is not None
    assert user.secret is None


def test_deny_permit_last_match_wins() -> None:
    config, _ = manager("[u]\nsecret=s\ndeny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255\n")
    user = config.user("u")
    assert user is not None
    assert user.allows("127.0.0.1")
    assert user.allows("::ffff:127.0.0.1")
    assert not user.allows("127.0.0.2")
    assert user.allows("::1")


def test_named_acls_must_all_allow_and_unknown_denies() -> None:
    acl_text = "[local]\ndeny=0.0.0.0/0\npermit=127.0.0.0/8\n[two]\ndeny=127.0.0.2\n"
    config, warnings = manager(
        "[a]\nsecret=s\nacl=local\n[b]\nsecret=s\nacl=local,two\n[c]\nsecret=s\nacl=ghost\n",
        acl_text,
    )
    a, b, c = (config.user(n) for n in "abc")
    assert a is not None
    assert b is not None
    assert c is not None
    assert a.allows("127.0.0.2")
    assert not a.allows("10.0.0.1")
    assert b.allows("127.0.0.1")
    assert not b.allows("127.0.0.2")
    assert not c.allows("127.0.0.1")
    assert warnings == ["manager.conf:9: named ACL 'ghost' is not in acl.conf: denies everyone"]

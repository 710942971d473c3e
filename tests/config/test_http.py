"""http.conf [general]: Asterisk's defaults, every option, and errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipnotify.config.http import SERVER_NAME, HttpConfig, load_http
from sipnotify.config.parser import ConfigError, parse_text


def http(text: str) -> tuple[HttpConfig, list[str]]:
    config, warnings = load_http(parse_text(text, name="http.conf"))
    return config, [str(w) for w in warnings]


def test_without_a_file_or_a_bindaddr_nothing_is_served() -> None:
    assert http("")[0] == HttpConfig()
    assert not HttpConfig().serving
    assert not http("[general]\nenabled = yes\n")[0].serving  # no bindaddr: as Asterisk
    assert http("[general]\nenabled = yes\nbindaddr = 127.0.0.1\n")[0].serving
    assert HttpConfig().servername == SERVER_NAME
    assert (HttpConfig().bindport, HttpConfig().prefix) == (8088, "")


def test_every_option_is_read() -> None:
    config, warnings = http(
        "[general]\nenabled=yes\nbindaddr=::1\nbindport=0\nprefix=asterisk\nservername=\n"
        "sessionlimit=5\nsession_inactivity=1000\nenable_status=yes\ntlsenable=yes\n"
        "tlsbindaddr=127.0.0.1:8443\ntlscertfile=/etc/c.pem\ntlsprivatekey=/etc/k.pem\n"
    )
    assert warnings == []
    assert config == HttpConfig(
        enabled=True, bindaddr="::1", bindport=0, prefix="/asterisk", servername="",
        sessionlimit=5, session_inactivity_ms=1000, enable_status=True, tlsenable=True,
        tlsbindaddr="127.0.0.1", tlsbindport=8443, tlscertfile=Path("/etc/c.pem"),
        tlsprivatekey=Path("/etc/k.pem"),
    )  # fmt: skip
    assert config.serving_tls


def test_tls_binds_where_http_does_unless_told_and_needs_a_certificate() -> None:
    config, warnings = http("[general]\nenabled=yes\nbindaddr=127.0.0.1\ntlsenable=yes\n")
    assert (config.tlsbindaddr, config.tlsbindport) == ("127.0.0.1", 8089)
    assert not config.serving_tls
    assert warnings == ["http.conf:4: tlsenable without tlscertfile: no HTTPS"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("bindport = 70000", "bindport = 70000 is out of range (0 to 65535)"),
        ("bindaddr = example", "bindaddr = 'example' is not an IP address"),
        ("prefix = a/b", "prefix = 'a/b' is not one path segment"),
        ("enabled = maybe", "enabled = 'maybe' is not yes or no"),
        ("sessionlimit = 0", "sessionlimit = 0 is out of range (1 or more)"),
    ],
)
def test_bad_values_name_file_and_line(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        http(f"[general]\n{line}\n")
    assert str(caught.value) == f"http.conf:2: {message}"


def test_options_not_acted_on_and_unknown_ones_are_warnings() -> None:
    _, warnings = http("[general]\nredirect = / /static/\nfrob = 1\n[other]\n")
    assert warnings == [
        "http.conf:2: 'redirect' is not supported; ignored",
        "http.conf:3: unknown option 'frob' in [general]",
        "http.conf:4: unknown section [other]",
    ]

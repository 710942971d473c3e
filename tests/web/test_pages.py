"""The fixed pages, byte for byte as Asterisk 23 writes them (with its server name)."""

from __future__ import annotations

from sipnotify.web import pages
from sipnotify.web.formats import Format, render


def test_the_404_and_401_pages_have_asterisks_shape_and_size() -> None:
    page = pages.error_page(404, pages.NOT_FOUND_TEXT, "Asterisk/23.4.1")
    assert len(page.encode()) == 247
    assert page.count("\r\n") == 9
    assert page.startswith('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>')
    assert "<address>Asterisk/23.4.1</address>" in page
    unauthorized = pages.error_page(401, "", "Asterisk/23.4.1")
    assert len(unauthorized.encode()) == 206
    assert "<h1>Unauthorized</h1>\r\n<p></p>" in unauthorized


def test_the_manager_tester_frame_differs_from_asterisks_only_in_the_name() -> None:
    ping = (("Response", "Success"), ("Ping", "Pong"), ("Timestamp", "1796009021.176807"))
    page = pages.MANAGER_HEAD + render(Format.HTML, [ping]) + pages.MANAGER_TAIL
    asterisk = page.replace("sipnotify Manager", "Asterisk&trade; Manager")
    assert len(asterisk.encode()) == 913  # the captured ping page
    assert (page.count("\r\n"), page.count("\n") - page.count("\r\n")) == (5, 16)
    assert pages.AMANAGER_HEAD.count("\r\n") == 8


def test_the_status_page_names_server_prefix_and_address() -> None:
    page = pages.status_page("sipnotify/0.1.0", "/asterisk", ["127.0.0.1:38475"])
    assert "<tr><td><i>Prefix</i></td><td><b>/asterisk</b></td></tr>" in page
    assert "<tr><td><i>Bind Address</i></td><td><b>127.0.0.1:38475</b></td></tr>" in page
    assert page.count("\r\n") == 10

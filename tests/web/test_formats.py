"""AMI messages as rawman, mxml and manager bodies, byte for byte as Asterisk 23 writes them,
and HTTP parameters as one AMI request (refusing what could break the wire)."""

from __future__ import annotations

import pytest

from sipnotify.ami.codec import LINE_TOO_LONG, TOO_MANY_LINES, AmiMessage, FramingError, encode
from sipnotify.web.formats import BadRequest, Format, decode_event, render, to_request

PING = (("Response", "Success"), ("Ping", "Pong"), ("Timestamp", "1796009021.184890"))
LIST = (
    (("Response", "Success"), ("EventList", "start"),
     ("Message", "A listing of Endpoints follows, presented as EndpointList events")),
    (("Event", "EndpointList"), ("ObjectType", "endpoint"), ("ObjectName", "bob"),
     ("Transport", ""), ("Aor", "bob"), ("Auths", "bob-auth"), ("OutboundAuths", ""),
     ("Contacts", ""), ("DeviceState", "Unavailable"), ("ActiveChannels", "0")),
    (("Event", "EndpointListComplete"), ("EventList", "Complete"), ("ListItems", "1")),
)  # fmt: skip


def test_rawman_is_the_socket_bytes() -> None:
    assert render(Format.RAW, [PING]) == (
        "Response: Success\r\nPing: Pong\r\nTimestamp: 1796009021.184890\r\n\r\n"
    )


def test_mxml_as_asterisk_writes_it() -> None:
    assert render(Format.XML, [PING]) == (
        "<ajax-response>\n<response type='object' id='unknown'><generic response='Success' "
        "ping='Pong' timestamp='1796009021.184890' /></response>\n</ajax-response>\n"
    )
    listed = render(Format.XML, LIST)
    assert (
        "<generic event='EndpointList' objecttype='endpoint' objectname='bob' transport='' "
        "aor='bob' auths='bob-auth' outboundauths='' contacts='' devicestate='Unavailable' "
        "activechannels='0' /></response>\n"
    ) in listed
    assert listed.count("\n") == 5  # bare LF lines only


def test_mxml_keys_and_values_are_made_safe_and_repeats_numbered() -> None:
    odd = (("Variable", "a=<b>"), ("Variable", 'it\'s & "so"'), ("1st Key", "x"))
    assert render(Format.XML, [odd], [("ajaxdest", "d"), ("ajaxobjtype", "o")]) == (
        "<ajax-response>\n<response type='object' id='d'><o variable='a=&lt;b&gt;' "
        "variable-2='it&apos;s &amp; &quot;so&quot;' _1st_key='x' /></response>\n"
        "</ajax-response>\n"
    )


def test_manager_html_rows() -> None:
    assert render(Format.HTML, [PING]) == (
        "<tr><td>Response</td><td>Success</td></tr>\n"
        "<tr><td>Ping</td><td>Pong</td></tr>\n"
        "<tr><td>Timestamp</td><td>1796009021.184890</td></tr>\n"
        '<tr><td colspan="2"><hr></td></tr>\r\n'
    )


def test_an_encoded_event_comes_back_as_its_fields() -> None:
    fields = (("Event", "X"), ("Empty", ""), ("Colon", "a: b"))
    assert decode_event(encode(fields)) == fields


def test_parameters_become_headers_in_order() -> None:
    request = to_request([("action", "PJSIPNotify"), ("variable", "Event=check-sync"),
                          ("variable", "X=1"), ("endpoint", "  alice")])  # fmt: skip
    assert isinstance(request, AmiMessage)
    assert request.action == "PJSIPNotify"
    assert request.get_all("Variable") == ["Event=check-sync", "X=1"]
    assert request.get("Endpoint") == "alice"  # leading blanks skipped, as on the socket


@pytest.mark.parametrize("value", ["a\r\nEvent: x", "a\nb", "nul\x00", "del\x7f"])
def test_a_control_character_is_refused(value: str) -> None:
    assert to_request([("action", "Ping"), ("actionid", value)]) == BadRequest(
        "control character in parameter 'actionid'"
    )


def test_the_socket_framing_limits_apply() -> None:
    long = to_request([("action", "Ping"), ("actionid", "x" * 1100)])
    assert isinstance(long, FramingError)
    assert long.text == LINE_TOO_LONG
    many = to_request([("action", "Ping"), *((f"h{n}", "v") for n in range(200))])
    assert isinstance(many, FramingError)
    assert many.text == TOO_MANY_LINES

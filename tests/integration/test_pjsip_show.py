"""PJSIPShowEndpoints, PJSIPShowAors, PJSIPShowContacts and PJSIPQualify (behaviour: show actions)."""

from __future__ import annotations

import re
from pathlib import Path

from sipnotify.sip.registrar import Binding
from sipnotify.storage.sqlite import SqliteContactStore
from tests.integration.conftest import RawAmi, Service, StartService, Uas, admin_conf
from tests.integration.ports import free_port
from tests.integration.sipp import header
from tests.integration.test_registrar import PJSIP, register

TWO = """[local]
type=transport
protocol=udp
bind=127.0.0.1:0
[user1]
type=auth
username=user1
password=a
[user2]
type=auth
username=user2
password=b
[user1]
type=aor
contact=sip:user1@127.0.0.1:{p1}
[user2]
type=aor
contact=sip:user2@127.0.0.1:{p2}
[user1]
type=endpoint
transport=local
aors=user1
auth=user1
[user2]
type=endpoint
transport=local
aors=user2
auth=user2
"""


def listing(service: Service, request: bytes) -> list[bytes]:
    with RawAmi(service.port) as ami:
        ami.login()
        ami.send(request)
        messages = [ami.message()]
        while messages[-1].startswith(b"Response: Success") or not re.match(
            rb"Event: \w+Complete\r\n", messages[-1]
        ):
            if messages[-1].startswith(b"Response: Error"):
                break
            messages.append(ami.message())
    return messages


def test_show_endpoints_testsuite_scenario(start_service: StartService) -> None:
    conf = TWO.format(p1=5062, p2=5063)
    service = start_service(admin_conf(), files={"pjsip.conf": conf})
    start, first, second, complete = listing(
        service, b"Action: PJSIPShowEndpoints\r\nActionID: 12345\r\n\r\n"
    )
    assert start == (
        b"Response: Success\r\nActionID: 12345\r\nEventList: start\r\n"
        b"Message: A listing of Endpoints follows, presented as EndpointList events\r\n\r\n"
    )
    assert first == (
        b"Event: EndpointList\r\nActionID: 12345\r\nObjectType: endpoint\r\nObjectName: user1\r\n"
        b"Transport: local\r\nAor: user1\r\nAuths: user1\r\nOutboundAuths: \r\n"
        b"Contacts: user1/sip:user1@127.0.0.1:5062,\r\nDeviceState: Not in use\r\n"
        b"ActiveChannels: 0\r\n\r\n"
    )
    assert b"Contacts: user2/sip:user2@127.0.0.1:5063,\r\n" in second
    assert complete == (
        b"Event: EndpointListComplete\r\nActionID: 12345\r\nEventList: Complete\r\n"
        b"ListItems: 2\r\n\r\n"
    )


def test_show_aors(start_service: StartService) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": TWO.format(p1=5062, p2=5063)})
    start, first, _second, complete = listing(service, b"Action: PJSIPShowAors\r\n\r\n")
    assert b"Message: A listing of AORs follows, presented as AorList events\r\n" in start
    assert first == (
        b"Event: AorList\r\nObjectType: aor\r\nObjectName: user1\r\nMinimumExpiration: 60\r\n"
        b"DefaultExpiration: 3600\r\nQualifyTimeout: 3.000000\r\nQualify2xxOnly: false\r\n"
        b"Mailboxes: \r\nSupportPath: false\r\nRemoveUnavailable: false\r\n"
        b"VoicemailExtension: \r\nMaxContacts: 0\r\nAuthenticateQualify: false\r\n"
        b"Contacts: user1/sip:user1@127.0.0.1:5062\r\nMaximumExpiration: 7200\r\n"
        b"QualifyFrequency: 0\r\nRemoveExisting: false\r\nOutboundProxy: \r\n\r\n"
    )
    assert complete.endswith(b"ListItems: 2\r\n\r\n")


def test_show_contacts_lists_registrations(start_service: StartService, uas: Uas) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP})
    (empty,) = listing(service, b"Action: PJSIPShowContacts\r\nActionID: SC0\r\n\r\n")
    assert empty == b"Response: Error\r\nActionID: SC0\r\nMessage: No Contacts found\n\r\n\r\n"
    reg = register(uas, service)
    assert reg.finish() == 0
    start, item, complete = listing(service, b"Action: PJSIPShowContacts\r\nActionID: SC1\r\n\r\n")
    assert start == (
        b"Response: Success\r\nActionID: SC1\r\nEventList: start\r\n"
        b"Message: A listing of Contacts follows, presented as ContactList events\r\n\r\n"
    )
    names = [line.split(b":")[0] for line in item.split(b"\r\n") if line]
    assert names == [
        b"Event", b"ActionID", b"ObjectType", b"ObjectName", b"ViaAddr", b"QualifyTimeout",
        b"Qualify2xxOnly", b"CallId", b"RegServer", b"PruneOnBoot", b"Path", b"Endpoint",
        b"ViaPort", b"AuthenticateQualify", b"Uri", b"QualifyFrequency", b"UserAgent",
        b"ExpirationTime", b"OutboundProxy", b"Status", b"RoundtripUsec",
    ]  # fmt: skip
    assert re.search(rb"\r\nObjectName: bob;@[0-9a-f]{32}\r\n", item)
    assert f"\r\nUri: sip:bob@127.0.0.1:{reg.port}\r\n".encode() in item
    assert f"\r\nViaPort: {reg.port}\r\n".encode() in item
    assert b"\r\nUserAgent: sipp-test\r\nExpirationTime: " in item
    assert b"\r\nStatus: NonQualified\r\nRoundtripUsec: N/A\r\n" in item
    assert complete == (
        b"Event: ContactListComplete\r\nActionID: SC1\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"
    )


def test_qualify_sends_options(start_service: StartService, uas: Uas) -> None:
    sipp = uas("uas_options.xml")
    conf = TWO.format(p1=sipp.port, p2=9)
    service = start_service(admin_conf(), files={"pjsip.conf": conf})
    with RawAmi(service.port) as ami:
        ami.login()
        for request, answer in (
            (b"Action: PJSIPQualify\r\n\r\n", b"Endpoint parameter missing."),
            (b"Action: PJSIPQualify\r\nEndpoint: nobody\r\n\r\n", b"Unable to retrieve endpoint\n"),
        ):
            ami.send(request)
            assert ami.message() == b"Response: Error\r\nMessage: " + answer + b"\r\n\r\n"
        ami.send(b"Action: PJSIPQualify\r\nActionID: q\r\nEndpoint: user1\r\n\r\n")
        assert ami.message() == (
            b"Response: Success\r\nActionID: q\r\nMessage: Endpoint found, will qualify\r\n\r\n"
        )
    assert sipp.finish() == 0
    (options,) = sipp.received()
    assert options.startswith(f"OPTIONS sip:user1@127.0.0.1:{sipp.port} SIP/2.0\r\n".encode())
    assert header(options, "Subscription-State") == []
    assert header(options, "CSeq")[0].endswith(" OPTIONS")


def events_until(ami: RawAmi, wanted: int, name: bytes = b"Event: ContactStatus") -> list[bytes]:
    found: list[bytes] = []
    while len(found) < wanted:
        message = ami.message()
        if message.startswith(name + b"\r\n"):
            found.append(message)
    return found


def test_registration_events_as_asterisk_23(start_service: StartService, uas: Uas) -> None:
    """A new contact: PeerStatus Reachable, ContactStatus NonQualified, DeviceStateChange
    NOT_INUSE; a refresh: nothing; an un-REGISTER: PeerStatus Unreachable, DeviceStateChange
    UNAVAILABLE, ContactStatus Removed."""
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP})
    with RawAmi(service.port) as ami:
        ami.login(events="system,call")
        ami.sock.settimeout(10)
        reg = register(uas, service)
        assert reg.finish() == 0
        uri = f"sip:bob@127.0.0.1:{reg.port}"
        created = [ami.message() for _ in range(3)]
        again = register(uas, service, port=reg.port)  # a refresh of the same contact
        assert again.finish() == 0
        ami.send(b"Action: Ping\r\nActionID: mark\r\n\r\n")
        assert ami.message().startswith(b"Response: Success\r\nActionID: mark\r\n")
        gone = register(uas, service, port=reg.port, expires="0")
        gone.finish()  # (its scenario looks for a Contact in the 200, which Expires: 0 has none)
        removed = [ami.message() for _ in range(3)]
    contact = f"URI: {uri}\r\nContactStatus: {{}}\r\nAOR: bob\r\nEndpointName: bob\r\n"
    assert created == [
        b"Event: PeerStatus\r\nPrivilege: system,all\r\nChannelType: PJSIP\r\nPeer: PJSIP/bob\r\n"
        b"PeerStatus: Reachable\r\n\r\n",
        b"Event: ContactStatus\r\nPrivilege: system,all\r\n"
        + contact.format("NonQualified").encode()
        + b"RoundtripUsec: 0\r\n\r\n",
        b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: PJSIP/bob\r\n"
        b"State: NOT_INUSE\r\n\r\n",
    ]
    assert removed == [
        b"Event: PeerStatus\r\nPrivilege: system,all\r\nChannelType: PJSIP\r\nPeer: PJSIP/bob\r\n"
        b"PeerStatus: Unreachable\r\n\r\n",
        b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nDevice: PJSIP/bob\r\n"
        b"State: UNAVAILABLE\r\n\r\n",
        b"Event: ContactStatus\r\nPrivilege: system,all\r\n"
        + contact.format("Removed").encode()
        + b"RoundtripUsec: 0\r\n\r\n",
    ]


def login_for_events(ami: RawAmi) -> None:
    ami.banner()
    ami.send(b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: system\r\n\r\n")
    ami.sock.settimeout(15)


def status_of(event: bytes) -> bytes:
    found = re.search(rb"ContactStatus: (\w+)", event)
    assert found is not None
    return found.group(1)


def test_pjsip_qualify_announces_each_contact(start_service: StartService, uas: Uas) -> None:
    sipp = uas("uas_options.xml")
    dead = free_port()
    conf = (
        TWO.format(p1=sipp.port, p2=dead)
        .replace(
            f"contact=sip:user2@127.0.0.1:{dead}\n",
            f"contact=sip:user2@127.0.0.1:{dead}\\;transport=tcp\n",
        )
        .replace("transport=local\naors=user2", "aors=user2")
    )
    conf += "[tcp]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1:0\n"
    service = start_service(admin_conf(), files={"pjsip.conf": conf})
    with RawAmi(service.port) as ami:
        login_for_events(ami)
        ami.send(
            b"Action: PJSIPQualify\r\nEndpoint: user1\r\n\r\nAction: PJSIPQualify\r\nEndpoint: user2\r\n\r\n"
        )
        found = {status_of(e): e for e in events_until(ami, 2)}
    assert set(found) == {b"Reachable", b"Unreachable"}
    reachable = found[b"Reachable"]
    assert f"URI: sip:user1@127.0.0.1:{sipp.port}\r\n".encode() in reachable
    rtt = re.search(rb"RoundtripUsec: (\d+)", reachable)
    assert rtt is not None
    assert int(rtt.group(1)) > 0
    assert b"AOR: user2\r\n" in found[b"Unreachable"]
    assert sipp.finish() == 0


def test_qualify_frequency_checks_registered_contacts(
    start_service: StartService, uas: Uas
) -> None:
    conf = PJSIP.replace(
        "[bob]\ntype=aor\nmax_contacts=2\n",
        "[bob]\ntype=aor\nmax_contacts=2\nqualify_frequency=1\n",
    )
    service = start_service(admin_conf(), files={"pjsip.conf": conf})
    with RawAmi(service.port) as ami:
        login_for_events(ami)
        reg = register(uas, service, hold_ms=3000, ooc="uas_options.xml")
        statuses = [status_of(e) for e in events_until(ami, 2)]
        assert statuses == [b"Unknown", b"Reachable"]  # until the first qualify answers
        start, item, _complete = listing(service, b"Action: PJSIPShowContacts\r\n\r\n")
    assert start.startswith(b"Response: Success")
    assert b"\r\nStatus: Reachable\r\nRoundtripUsec: " in item
    assert b"RoundtripUsec: N/A" not in item
    assert reg.finish() == 0


SHOW_ENDPOINT = """[local]
type=transport
protocol=udp
bind=127.0.0.1:0
[user1]
type=identify
endpoint=user1
match=127.0.0.1
[user1]
type=auth
username=user1
password=xxx
[user1]
type=aor
max_contacts=1
contact=sip:user1@127.0.0.1:5062,sip:user1@127.0.0.2:5063
[user1]
type=endpoint
transport=local
aors=user1
auth=user1
"""


def test_show_endpoint_testsuite_scenario(start_service: StartService) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": SHOW_ENDPOINT})
    messages = listing(
        service, b"Action: PJSIPShowEndpoint\r\nActionID: 12345\r\nEndpoint: PJSIP/user1\r\n\r\n"
    )
    start, *items, complete = messages
    assert start == (
        b"Response: Success\r\nActionID: 12345\r\nEventList: start\r\n"
        b"Message: Following are Events for each object associated with the Endpoint\r\n\r\n"
    )
    kinds = [i.split(b"\r\n")[0] for i in items]
    assert kinds == [  # the order of Asterisk's formatters
        b"Event: EndpointDetail", b"Event: AuthDetail", b"Event: TransportDetail",
        b"Event: AorDetail", b"Event: ContactStatusDetail", b"Event: ContactStatusDetail",
        b"Event: IdentifyDetail",
    ]  # fmt: skip
    endpoint, auth, transport, aor, *statuses, identify = items
    assert b"\r\nAors: user1\r\n" in endpoint
    assert b"\r\nContext: default\r\n" in endpoint
    assert b"\r\nAuth: user1\r\n" in endpoint
    assert b"\r\nTransport: local\r\n" in endpoint
    assert b"\r\nContacts: user1/sip:user1@127.0.0.1:5062,user1/sip:user1@127.0.0.2:5063\r\n" in aor
    assert b"\r\nTotalContacts: 2\r\nContactsRegistered: 0\r\nEndpointName: user1\r\n" in aor
    assert b"\r\nMaxContacts: 1\r\n" in aor
    assert (
        b"\r\nUsername: user1\r\nMd5Cred: \r\nRealm: \r\nAuthType: userpass\r\nPassword: xxx\r\n"
        in auth
    )
    assert b"\r\nProtocol: udp\r\n" in transport
    assert b"\r\nBind: 127.0.0.1:0\r\n" in transport
    assert b"\r\nVerifyServer: No\r\n" in transport
    assert (
        b"\r\nMatch: 127.0.0.1/255.255.255.255\r\nMatchRequestUri: \r\nSrvLookups: true\r\n"
        b"Endpoint: user1\r\nMatchHeader: \r\nEndpointName: user1\r\n"
    ) in identify
    assert all(b"\r\nStatus: NonQualified\r\nRoundtripUsec: N/A\r\n" in s for s in statuses)
    assert (
        complete
        == b"Event: EndpointDetailComplete\r\nActionID: 12345\r\nEventList: Complete\r\nListItems: 7\r\n\r\n"
    )
    for request, answer in (
        (b"Action: PJSIPShowEndpoint\r\n\r\n", b"PJSIPShowEndpoint requires an endpoint name\n"),
        (
            b"Action: PJSIPShowEndpoint\r\nEndpoint: SIP/user1\r\n\r\n",
            b"Unable to retrieve endpoint SIP/user1\n",
        ),
    ):
        (error,) = listing(service, request)
        assert error == b"Response: Error\r\nMessage: " + answer + b"\r\n\r\n"


def test_show_auths_and_inbound_registrations(start_service: StartService, uas: Uas) -> None:
    service = start_service(admin_conf(), files={"pjsip.conf": PJSIP})
    start, auth, complete = listing(service, b"Action: PJSIPShowAuths\r\n\r\n")
    assert b"Message: A listing of Auths follows, presented as AuthList events\r\n" in start
    assert auth.startswith(
        b"Event: AuthList\r\nObjectType: auth\r\nObjectName: bob\r\nOauthSecret: \r\n"
    )
    assert b"\r\nUsername: bob\r\n" in auth
    assert complete.endswith(b"ListItems: 1\r\n\r\n")
    start, *before, complete = listing(service, b"Action: PJSIPShowRegistrationsInbound\r\n\r\n")
    assert b"Message: Following are Events for each Inbound registration\r\n" in start
    assert all(b"\r\nContact: \r\n" in d and d.endswith(b"\r\nContacts: \r\n\r\n") for d in before)
    assert complete.endswith(b"ListItems: 2\r\n\r\n")  # every AOR, registered or not
    reg = register(uas, service)
    assert reg.finish() == 0
    _start, _alice, detail, complete = listing(
        service, b"Action: PJSIPShowRegistrationsInbound\r\n\r\n"
    )
    assert detail.startswith(
        b"Event: InboundRegistrationDetail\r\nObjectType: aor\r\nObjectName: bob\r\n"
    )
    contact = f"bob/sip:bob@127.0.0.1:{reg.port}".encode()
    assert b"\r\nContact: " + contact + b"\r\n" in detail
    assert detail.endswith(b"\r\nContacts: " + contact + b",\r\n\r\n")
    assert complete.endswith(b"ListItems: 2\r\n\r\n")


def test_a_list_larger_than_the_output_cap_streams_in_order(
    start_service: StartService, tmp_path: Path
) -> None:
    """100,000 contacts (~50 MB of events, several times the 8 MiB unsent-output cap, so the
    list must wait for the client to read) arrive whole and in order, and a request pipelined
    behind the list is answered after it."""
    data = tmp_path / "big-data"
    store = SqliteContactStore(data / "contacts.sqlite3")
    aors, per = 10_000, 10
    store.change(
        [Binding(aor=f"a{a}", uri=f"sip:a{a}-{c}@10.0.{c}.{a % 250}", expires_at=4e9, endpoint=f"a{a}")
         for a in range(aors) for c in range(per)],
        [],
    )  # fmt: skip
    store.close()
    sections = "".join(
        f"[a{a}]\ntype=aor\nmax_contacts={per}\n[a{a}]\ntype=endpoint\naors=a{a}\n"
        for a in range(aors)
    )
    conf = "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n" + sections
    service = start_service(
        admin_conf(), files={"pjsip.conf": conf}, extra_args=("--data-dir", str(data))
    )
    with RawAmi(service.port) as ami:
        ami.login()
        ami.sock.settimeout(60)
        ami.send(
            b"Action: PJSIPShowContacts\r\nActionID: big\r\n\r\nAction: Ping\r\nActionID: after\r\n\r\n"
        )
        assert ami.message().startswith(
            b"Response: Success\r\nActionID: big\r\nEventList: start\r\n"
        )
        items = 0
        while (message := ami.message()).startswith(b"Event: ContactList\r\n"):
            items += 1
        assert items == aors * per
        assert (
            message
            == b"Event: ContactListComplete\r\nActionID: big\r\nEventList: Complete\r\nListItems: 100000\r\n\r\n"
        )
        assert ami.message().startswith(b"Response: Success\r\nActionID: after\r\nPing: Pong\r\n")


def test_register_security_events(start_service: StartService, uas: Uas) -> None:
    """A session taking `security` events hears ChallengeSent then SuccessfulAuth for a
    REGISTER answered with the right password, ChallengeSent and ChallengeResponseFailed for a
    wrong one (the first, unauthenticated attempt is challenged as always)."""
    users = admin_conf() + "[watcher]\nsecret = w\nread = all\n"
    service = start_service(users, files={"pjsip.conf": PJSIP})
    sip_port = service.sip_port()
    with RawAmi(service.port) as ami:
        ami.login("watcher", "w", events="security", booted=False)
        ami.sock.settimeout(10)
        good = register(uas, service)
        assert good.finish() == 0
        sent, success = ami.message(), ami.message()
        bad = register(uas, service, password="wrong")
        bad.finish()
        first, again, failed = ami.message(), ami.message(), ami.message()
    address = f"LocalAddress: IPV4/UDP/127.0.0.1/{sip_port}\r\n"
    for event, name in ((sent, b"ChallengeSent"), (success, b"SuccessfulAuth"),
                        (first, b"ChallengeSent"), (again, b"ChallengeSent"),
                        (failed, b"ChallengeResponseFailed")):  # fmt: skip
        assert event.startswith(b"Event: " + name + b"\r\nPrivilege: security,all\r\nEventTV: ")
        assert b"\r\nService: PJSIP\r\nEventVersion: 1\r\nAccountID: bob\r\nSessionID: " in event
        assert address.encode() in event
    assert sent.endswith(
        f"RemoteAddress: IPV4/UDP/127.0.0.1/{good.port}\r\nChallenge: \r\n\r\n".encode()
    )
    assert b"\r\nSeverity: Informational\r\n" in success
    assert success.endswith(b"\r\nUsingPassword: 1\r\n\r\n")
    assert b"\r\nSeverity: Error\r\n" in failed
    assert re.search(rb"\r\nChallenge: \d+/[0-9a-f]+\r\nResponse: [0-9a-f]{32}\r\n"
                     rb"ExpectedResponse: \r\n\r\n$", failed)  # fmt: skip

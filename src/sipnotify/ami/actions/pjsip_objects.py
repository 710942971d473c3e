"""PJSIP objects as Asterisk 23's show actions print them: every field of an endpoint and of a
transport in Asterisk's order with Asterisk's defaults, the AOR, auth and identify fields, and
the two vocabularies of a contact (ContactList and ContactStatusDetail).

A field shows sipnotify's value for the options it acts on, the value as written for options
it accepts without acting on them (`accepted`), and Asterisk's default otherwise; booleans take
the spelling of their field (`true`/`false`, `yes`/`no`, `Yes`/`No`).
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import ip_network

from sipnotify.ami.codec import Fields
from sipnotify.config.pjsip import Aor, Auth, Endpoint, Identify, Transport
from sipnotify.registrar.reachability import State
from sipnotify.sip.registrar import Binding, contact_id

# Field=default, in the order Asterisk 23.4.1 sends them (after ObjectType and ObjectName).
ENDPOINT = """\
RpidImmediate=false
Webrtc=no
Ignore183WithoutSdp=false
SendAoc=false
DeviceStateBusyAt=0
T38UdptlMaxdatagram=0
CodecPrefsIncomingAnswer=prefer:pending, operation:intersect, keep:all, transcode:allow
SecurityNegotiation=no
DtlsRekey=0
RtpPortEnd=0
NamedPickupGroup=
DirectMediaMethod=invite
SendRpid=false
PickupGroup=
SdpSession=Asterisk
DtlsVerify=No
MessageContext=
Tenantid=
Mailboxes=
RecordOnFeature=automixmon
DtlsPrivateKey=
DtlsFingerprint=SHA-256
OverlapContext=
OutgoingCallOfferPref=remote_merge
RtpPortStart=0
FromDomain=
TimersSessExpires=1800
NamedCallGroup=
DtlsCipher=
MediaEncryptionOptimistic=false
SuppressQ850ReasonHeaders=false
Aors=
IdentifyBy=username,ip
CalleridPrivacy=allowed_not_screened
MwiSubscribeReplacesUnsolicited=no
CosAudio=0
FollowEarlyMediaFork=true
Context=default
RtpSymmetric=false
Transport=
MohSuggest=default
T38Udptl=false
FaxDetect=false
T38BindUdptlToMediaAddress=false
TosVideo=0
SrtpTag32=false
ReferBlindProgress=true
MaxAudioStreams=1
Bundle=false
UseAvpf=false
CallGroup=
SendConnectedLine=yes
FaxDetectTimeout=0
SdpOwner=-
ForceRport=true
CalleridTag=
RtpTimeoutHold=0
SuppressMohOnSendonly=false
UsePtime=false
MediaAddress=
VoicemailExtension=
RtpTimeout=0
StirShaken=no
SetVar=
ContactAcl=
PreferredCodecOnly=false
GeolocOutgoingCallProfile=
ForceAvp=false
RecordOffFeature=automixmon
FromUser=
SendDiversion=true
SendHistoryInfo=false
T38UdptlIpv6=false
ToneZone=
Language=
AllowSubscribe=true
RtpIpv6=false
Callerid=<unknown>
MohPassthrough=false
CosVideo=0
DtlsAutoGenerateCert=No
AsymmetricRtpCodec=false
GeolocIncomingCallProfile=
IceSupport=false
AggregateMwi=true
OneTouchRecording=false
MwiFromUser=
RedirectMethod=user
Accountcode=
CodecPrefsOutgoingAnswer=prefer:pending, operation:intersect, keep:all, transcode:allow
Allow=()
RewriteContact=false
UserEqPhone=false
RtpEngine=asterisk
FollowRedirectMethods=
SubscribeContext=
NotifyEarlyInuseRinging=false
IncomingMwiMailbox=
IncomingCallOfferPref=local
AllowUnauthenticatedOptions=false
Auth=
DirectMediaGlareMitigation=none
TrustIdInbound=false
StirShakenProfile=
BindRtpToMediaAddress=false
DisableDirectMediaOnNat=false
MediaEncryption=no
MediaUseReceivedTransport=false
AllowOverlap=true
DtmfMode=rfc4733
OutboundAuth=
TosAudio=0
DtlsCertFile=
DtlsCaPath=
DtlsSetup=active
ConnectedLineMethod=invite
G726NonStandard=false
100rel=yes
Timers=yes
DirectMedia=true
Acl=
TimersMinSe=90
TrustIdOutbound=false
SubMinExpiry=0
RtcpMux=false
MaxVideoStreams=1
AcceptMultipleSdpAnswers=false
CodecPrefsIncomingOffer=prefer:pending, operation:intersect, keep:all, transcode:allow
CodecPrefsOutgoingOffer=prefer:pending, operation:union, keep:all, transcode:allow
TrustConnectedLine=yes
SendPai=false
RtpKeepalive=0
T38UdptlEc=none
T38UdptlNat=false
AllowTransfer=true
DtlsCaFile=
OutboundProxy=
InbandProgress=false
"""
TRANSPORT = """\
WebsocketWriteTimeout=100
Cos=0
TcpKeepaliveEnable=false
Protocol=udp
SymmetricTransport=false
Domain=
VerifyServer=No
LocalNet=
Bind=
AllowWildcardCerts=No
TcpKeepaliveIntervalTime=1
AsyncOperations=1
ExternalMediaAddress=
Method=unspecified
ExternalSignalingAddress=
RequireClientCert=No
TcpKeepaliveIdleTime=30
Tos=0
CaListPath=
Cipher=
CertFile=
ExternalSignalingPort=0
Password=
AllowReload=false
VerifyClient=No
TcpKeepaliveProbeCount=5
PrivKeyFile=
CaListFile=
"""
_TRUE = frozenset(("yes", "true", "y", "t", "1", "on"))
_BOOLEANS = {"true": ("true", "false"), "false": ("true", "false"), "yes": ("yes", "no"),
             "no": ("yes", "no"), "Yes": ("Yes", "No"), "No": ("Yes", "No")}  # fmt: skip


def _template(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((line.partition("=")[0], line.partition("=")[2]) for line in text.splitlines())


ENDPOINT_FIELDS = _template(ENDPOINT)
TRANSPORT_FIELDS = _template(TRANSPORT)


def camel(option: str) -> str:
    """`direct_media` → `DirectMedia`, as Asterisk names an option in its show events."""
    return "".join(part[:1].upper() + part[1:] for part in option.split("_"))


def _text(value: object, default: str) -> str:
    """A value in the spelling of its field's default."""
    spelling = _BOOLEANS.get(default)
    if spelling is not None:
        truth = value if isinstance(value, bool) else str(value).strip().lower() in _TRUE
        return spelling[0] if truth else spelling[1]
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _fill(template: Iterable[tuple[str, str]], values: dict[str, object]) -> Fields:
    return tuple((name, _text(values[name], default) if name in values else default)
                 for name, default in template)  # fmt: skip


def _values(obj: Endpoint | Transport, options: Iterable[str]) -> dict[str, object]:
    values: dict[str, object] = {camel(key): value for key, value in obj.accepted}
    values.update({camel(option): getattr(obj, option) for option in options})
    return values


_ENDPOINT_OPTIONS = ("aors", "auth", "outbound_auth", "from_user", "from_domain", "transport",
                     "outbound_proxy", "user_eq_phone", "context", "rewrite_contact",
                     "force_rport", "rtp_timeout", "identify_by")  # fmt: skip
_TRANSPORT_OPTIONS = ("protocol", "bind", "cert_file", "priv_key_file", "ca_list_file",
                      "verify_server", "verify_client", "require_client_cert",
                      "method")  # fmt: skip


def endpoint_fields(endpoint: Endpoint) -> Fields:
    """EndpointDetail's sorcery fields (the computed DeviceState and ActiveChannels follow)."""
    values = _values(endpoint, _ENDPOINT_OPTIONS)
    values["Allow"] = _codecs(endpoint.accepted)
    head = (("ObjectType", "endpoint"), ("ObjectName", endpoint.name))
    return (*head, *_fill(ENDPOINT_FIELDS, values))


def _codecs(accepted: tuple[tuple[str, str], ...]) -> str:
    """`disallow`/`allow` lists applied in order, as Asterisk prints them: `(ulaw|alaw)`."""
    chosen: list[str] = []
    for key, value in accepted:
        if key not in ("allow", "disallow"):
            continue
        for written in (c.strip().lower() for c in value.split(",") if c.strip()):
            removing = key == "disallow" or written.startswith("!")
            codec = written.lstrip("!")
            if codec == "all":
                chosen = [] if removing else chosen
            elif removing:
                chosen = [c for c in chosen if c != codec]
            elif codec not in chosen:
                chosen.append(codec)
    return f"({'|'.join(chosen)})"


def transport_fields(transport: Transport) -> Fields:
    values = _values(transport, _TRANSPORT_OPTIONS)
    head = (("ObjectType", "transport"), ("ObjectName", transport.name))
    return (*head, *_fill(TRANSPORT_FIELDS, values))


def aor_fields(aor: Aor, uris: list[str]) -> Fields:
    """AorList and AorDetail; `Contacts` is `aor/uri` joined by commas."""
    accepted = dict(aor.accepted)
    return (
        ("ObjectType", "aor"),
        ("ObjectName", aor.name),
        ("MinimumExpiration", str(aor.minimum_expiration)),
        ("DefaultExpiration", str(aor.default_expiration)),
        ("QualifyTimeout", "3.000000"),
        ("Qualify2xxOnly", "false"),
        ("Mailboxes", accepted.get("mailboxes", "")),
        ("SupportPath", _text(aor.support_path, "false")),
        ("RemoveUnavailable", "false"),
        ("VoicemailExtension", accepted.get("voicemail_extension", "")),
        ("MaxContacts", str(aor.max_contacts)),
        ("AuthenticateQualify", "false"),
        ("Contacts", ",".join(f"{aor.name}/{uri}" for uri in uris)),
        ("MaximumExpiration", str(aor.maximum_expiration)),
        ("QualifyFrequency", str(aor.qualify_frequency)),
        ("RemoveExisting", _text(aor.remove_existing, "false")),
        ("OutboundProxy", accepted.get("outbound_proxy", "")),
    )


def registration_fields(aor: Aor, uris: list[str]) -> Fields:
    """InboundRegistrationDetail: the AOR's fields with `Contact` (no trailing comma) where
    AorList has `Contacts`, and a `Contacts` with a trailing comma at the end."""
    listed = [f"{aor.name}/{uri}" for uri in uris]
    fields = [("Contact", ",".join(listed)) if name == "Contacts" else (name, value)
              for name, value in aor_fields(aor, uris)]  # fmt: skip
    return (*fields, ("Contacts", "".join(f"{item}," for item in listed)))


def auth_fields(auth: Auth) -> Fields:
    accepted = dict(auth.accepted)
    return (
        ("ObjectType", "auth"),
        ("ObjectName", auth.name),
        ("OauthSecret", accepted.get("oauth_secret", "")),
        ("PasswordDigest", accepted.get("password_digest", "")),
        ("SupportedAlgorithmsUas", accepted.get("supported_algorithms_uas", "MD5")),
        ("RefreshToken", accepted.get("refresh_token", "")),
        ("Username", auth.username),
        ("Md5Cred", auth.md5_cred),
        ("Realm", auth.realm),
        ("AuthType", auth.auth_type),
        ("Password", auth.password),
        ("SupportedAlgorithmsUac", accepted.get("supported_algorithms_uac", "MD5")),
        ("NonceLifetime", str(auth.nonce_lifetime)),
        ("OauthClientid", accepted.get("oauth_clientid", "")),
    )


def identify_fields(identify: Identify) -> Fields:
    accepted = dict(identify.accepted)
    return (
        ("ObjectType", "identify"),
        ("ObjectName", identify.name),
        ("Match", ",".join(_netmask(n) for n in identify.match)),
        ("MatchRequestUri", accepted.get("match_request_uri", "")),
        ("SrvLookups", _text(accepted.get("srv_lookups", "yes"), "true")),
        ("Endpoint", identify.endpoint),
        ("MatchHeader", accepted.get("match_header", "")),
    )


def _netmask(network: str) -> str:
    """`127.0.0.1/32` as Asterisk prints it: `127.0.0.1/255.255.255.255`."""
    net = ip_network(network)
    return f"{net.network_address}/{net.netmask}" if net.version == 4 else network


def contact_status_fields(
    aor: Aor, uri: str, endpoint: str, state: State, binding: Binding | None
) -> Fields:
    """ContactStatusDetail. A registered contact (`binding`) carries its User-Agent, expiry,
    Via address and Call-ID, and the id `aor;@md5`; a static one `aor@@md5` and none of them."""
    registered: Fields = ()
    if binding is not None:
        registered = (("ViaAddress", f"{binding.via_addr}:{binding.via_port}"),
                      ("CallID", binding.call_id))  # fmt: skip
    return (
        ("AOR", aor.name),
        ("URI", uri),
        ("UserAgent", binding.user_agent if binding else ""),
        ("RegExpire", str(int(binding.expires_at)) if binding else "0"),
        *registered,
        ("Status", state.status),
        ("RoundtripUsec", rtt(state)),
        ("EndpointName", endpoint),
        ("ID", binding.id if binding else contact_id(aor.name, uri, static=True)),
        ("AuthenticateQualify", "0"),
        ("OutboundProxy", dict(aor.accepted).get("outbound_proxy", "")),
        ("Path", binding.path if binding else ""),
        ("QualifyFrequency", str(aor.qualify_frequency)),
        ("QualifyTimeout", "3.000"),
        ("Qualify2xxOnly", "0"),
    )


def contact_list_fields(binding: Binding, state: State, frequency: int) -> Fields:
    """ContactList (PJSIPShowContacts), a vocabulary of its own."""
    return (
        ("ObjectType", "contact"),
        ("ObjectName", binding.id),
        ("ViaAddr", binding.via_addr),
        ("QualifyTimeout", "3.000000"),
        ("Qualify2xxOnly", "false"),
        ("CallId", binding.call_id),
        ("RegServer", binding.reg_server),
        ("PruneOnBoot", "no"),
        ("Path", binding.path),
        ("Endpoint", binding.endpoint),
        ("ViaPort", str(binding.via_port)),
        ("AuthenticateQualify", "no"),
        ("Uri", binding.uri),
        ("QualifyFrequency", str(frequency)),
        ("UserAgent", binding.user_agent),
        ("ExpirationTime", str(int(binding.expires_at))),
        ("OutboundProxy", ""),
        ("Status", state.status),
        ("RoundtripUsec", rtt(state)),
    )


def rtt(state: State) -> str:
    reachable = state.status == "Reachable" and state.rtt is not None
    return str(round((state.rtt or 0) * 1_000_000)) if reachable else "N/A"

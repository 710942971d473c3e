"""TLS contexts for the transports of pjsip.conf (`cert_file`, `priv_key_file`,
`ca_list_file`, `verify_server`, `verify_client`, `require_client_cert`, `method` as the
minimum version).

As a server: `require_client_cert` refuses a client without a certificate that verifies;
`verify_client` alone verifies a certificate when the client presents one (a client without
one is let in, a bad one is refused). Client certificates are verified against `ca_list_file`,
else the system's trusted authorities."""

from __future__ import annotations

import ssl
from typing import Protocol


class Transport(Protocol):
    """A transport's TLS options (config.pjsip.Transport has them)."""

    @property
    def cert_file(self) -> str: ...
    @property
    def priv_key_file(self) -> str: ...
    @property
    def ca_list_file(self) -> str: ...
    @property
    def verify_server(self) -> bool: ...
    @property
    def verify_client(self) -> bool: ...
    @property
    def require_client_cert(self) -> bool: ...
    @property
    def method(self) -> str: ...


def client_context(transport: Transport) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=transport.ca_list_file or None)
    context.check_hostname = transport.verify_server
    context.verify_mode = ssl.CERT_REQUIRED if transport.verify_server else ssl.CERT_NONE
    _minimum(context, transport.method)
    return context


def server_context(transport: Transport) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(transport.cert_file, transport.priv_key_file or None)
    if transport.ca_list_file:
        context.load_verify_locations(transport.ca_list_file)
    elif transport.verify_client or transport.require_client_cert:
        context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    if transport.require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
    elif transport.verify_client:
        context.verify_mode = ssl.CERT_OPTIONAL
    _minimum(context, transport.method)
    return context


def _minimum(context: ssl.SSLContext, method: str) -> None:
    versions = {
        "tlsv1_2": ssl.TLSVersion.TLSv1_2,
        "tlsv1_3": ssl.TLSVersion.TLSv1_3,
    }
    if method in versions:
        context.minimum_version = versions[method]

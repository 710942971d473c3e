"""http.conf: the HTTP server that serves AMI over HTTP, the JSON API, metrics and the console.

Owns what Asterisk's main/http.c reads from `[general]`, with its defaults: the server runs
only with `enabled = yes` *and* a `bindaddr` (port `bindport`, 8088); `prefix` (empty: the
URIs are `/rawman`…; `prefix = asterisk` makes them `/asterisk/rawman`…); `servername` (the
Server header and the address line of error pages; empty: none); `sessionlimit` (100 HTTP
connections at once); `session_inactivity` (ms an idle connection is kept, 30,000);
`enable_status` (the `/httpstatus` page); and TLS: `tlsenable`, `tlsbindaddr` (port 8089
unless given), `tlscertfile`, `tlsprivatekey` (the certificate file when not given).
Options Asterisk has that sipnotify does not act on (`redirect`, `enablestatic`, other `tls*`)
are warnings; values out of range are ConfigErrors with file and line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sipnotify import __version__
from sipnotify.config import values
from sipnotify.config.parser import ConfigError, Diagnostic, Item, Origin, ParsedConfig

DEFAULT_PORT = 8088
DEFAULT_TLS_PORT = 8089
SERVER_NAME = f"sipnotify/{__version__}"
HTTP_OFF = "HTTP: off (http.conf needs enabled = yes and a bindaddr)"  # the start-up line
_NOT_ACTED_ON = frozenset(
    ("redirect", "enablestatic", "session_keep_alive", "tlscipher", "tlscafile", "tlscapath",
     "tlsverifyclient", "tlsdontverifyserver", "tlsclientmethod", "sslcipher")
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HttpConfig:
    enabled: bool = False
    bindaddr: str | None = None  # none: the server does not run, as in Asterisk
    bindport: int = DEFAULT_PORT
    prefix: str = ""  # "" or "/name"
    servername: str = SERVER_NAME
    sessionlimit: int = 100
    session_inactivity_ms: int = 30_000
    enable_status: bool = False
    tlsenable: bool = False
    tlsbindaddr: str | None = None
    tlsbindport: int = DEFAULT_TLS_PORT
    tlscertfile: Path | None = None
    tlsprivatekey: Path | None = None

    @property
    def serving(self) -> bool:
        """Whether the plain HTTP listener runs."""
        return self.enabled and self.bindaddr is not None

    @property
    def serving_tls(self) -> bool:
        return self.enabled and self.tlsenable and self.tlscertfile is not None

    @property
    def listening(self) -> bool:
        """Whether any listener runs."""
        return self.serving or self.serving_tls


def load_http(parsed: ParsedConfig) -> tuple[HttpConfig, list[Diagnostic]]:
    """http.conf's `[general]`. Raises ConfigError for a value that cannot be used."""
    config = HttpConfig()
    warnings: list[Diagnostic] = []
    tls_origin = Origin("http.conf", 0)
    for section in parsed.objects():
        if section.name.lower() != "general":
            warnings.append(Diagnostic(section.origin, f"unknown section [{section.name}]"))
            continue
        for item in section.items:
            config = _option(config, item, warnings)
            if item.key.lower() == "tlsenable" and config.tlsenable:
                tls_origin = item.origin
    if config.tlsenable and config.tlscertfile is None:
        warnings.append(Diagnostic(tls_origin, "tlsenable without tlscertfile: no HTTPS"))
    if config.tlsenable and config.tlsbindaddr is None:
        config = replace(config, tlsbindaddr=config.bindaddr)
    return config, warnings


def _option(config: HttpConfig, item: Item, warnings: list[Diagnostic]) -> HttpConfig:
    key = item.key.lower()
    reader = _READERS.get(key)
    if reader is not None:
        return replace(config, **reader(item))  # type: ignore[arg-type]
    if key in _NOT_ACTED_ON:
        warnings.append(Diagnostic(item.origin, f"'{item.key}' is not supported; ignored"))
    else:
        warnings.append(Diagnostic(item.origin, f"unknown option '{item.key}' in [general]"))
    return config


def _prefix(item: Item) -> dict[str, object]:
    name = item.value.strip().strip("/")
    if "/" in name or any(c.isspace() for c in name):
        raise ConfigError(item.origin, f"prefix = '{item.value}' is not one path segment")
    return {"prefix": f"/{name}" if name else ""}


def _tls_bind(item: Item) -> dict[str, object]:
    host, port = _host_port(item)
    return {"tlsbindaddr": host, "tlsbindport": port}


_READERS: dict[str, Callable[[Item], dict[str, object]]] = {
    "enabled": lambda item: {"enabled": values.boolean(item)},
    "enable_status": lambda item: {"enable_status": values.boolean(item)},
    "tlsenable": lambda item: {"tlsenable": values.boolean(item)},
    "bindaddr": lambda item: {"bindaddr": values.address(item)},
    "bindport": lambda item: {"bindport": values.integer(item, low=0, high=65535)},
    "prefix": _prefix,
    "servername": lambda item: {"servername": item.value.strip()},
    "sessionlimit": lambda item: {"sessionlimit": values.integer(item, low=1)},
    "session_inactivity": lambda item: {"session_inactivity_ms": values.integer(item, low=1)},
    "tlsbindaddr": _tls_bind,
    "tlscertfile": lambda item: {"tlscertfile": Path(item.value.strip())},
    "tlsprivatekey": lambda item: {"tlsprivatekey": Path(item.value.strip())},
}


def _host_port(item: Item) -> tuple[str, int]:
    """`address` or `address:port` (IPv6 in brackets when a port follows)."""
    text = item.value.strip()
    host, port = text, DEFAULT_TLS_PORT
    if text.startswith("[") and "]:" in text:
        host, _, port_text = text.rpartition(":")
        port = values.integer(Item(item.key, port_text, item.origin), low=0, high=65535)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = values.integer(Item(item.key, port_text, item.origin), low=0, high=65535)
    return values.address(Item(item.key, host, item.origin)), port

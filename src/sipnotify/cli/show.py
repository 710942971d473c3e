"""`sipnotify show`: endpoints, registered contacts, or one endpoint, as text tables, from the
AMI list actions of a running server."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sipnotify.ami.codec import AmiMessage
from sipnotify.cli import amiclient as client


async def render(server: client.Server, what: str, name: str) -> tuple[list[str], bool]:
    """The lines to print, and whether the request made sense (an endpoint that exists)."""
    if what == "endpoints":
        return _endpoints(await client.listing(server, "PJSIPShowEndpoints")), True
    contacts = await client.listing(server, "PJSIPShowContacts")
    if what == "contacts":
        return _contacts(contacts), True
    endpoints = [e for e in await client.listing(server, "PJSIPShowEndpoints")
                 if e.get("ObjectName") == name]  # fmt: skip
    if not endpoints:
        return [f"Unable to retrieve endpoint {name}"], False
    mine = [c for c in contacts if c.get("Endpoint") == name]
    return [*_endpoints(endpoints), "", *_static(endpoints[0]), *_contacts(mine)], True


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in (header, *rows)]  # fmt: skip


def _endpoints(items: list[AmiMessage]) -> list[str]:
    rows = []
    for item in items:
        contacts = [c for line in item.get_all("Contacts") for c in line.split(",") if c]
        rows.append(
            (
                item.get("ObjectName"),
                item.get("Transport") or "-",
                item.get("Aor") or "-",
                str(len(contacts)),
                item.get("DeviceState"),
            )
        )
    if not rows:
        return ["No endpoints found"]
    return _table(("Endpoint", "Transport", "AORs", "Contacts", "State"), rows)


def _contacts(items: list[AmiMessage]) -> list[str]:
    now = time.time()
    rows = []
    for item in items:
        usec = item.get("RoundtripUsec")
        rtt = f"{int(usec) / 1000:.1f} ms" if usec.isdigit() else "-"
        expires = int(item.get("ExpirationTime") or 0) - int(now)
        via = f"{item.get('ViaAddr')}:{item.get('ViaPort')}"
        rows.append((item.get("Endpoint"), item.get("Uri"), item.get("Status"), rtt,
                     f"{max(expires, 0)} s", via))  # fmt: skip
    if not rows:
        return ["No registered contacts"]
    return _table(("Endpoint", "Contact", "Status", "RTT", "Expires", "From"), rows)


def _static(endpoint: AmiMessage) -> list[str]:
    """Every contact the endpoint has (static and registered), from its EndpointList item."""
    listed = [c for line in endpoint.get_all("Contacts") for c in line.split(",") if c]
    return [f"Contact: {c}" for c in listed] or ["Contact: (none)"]

"""RTP for one call leg (RFC 3550), kept minimal: a UDP port, packets echoed or dropped.

sipnotify does not decode or transcode media. A leg's port takes RTP from the peer; in echo
mode (the Echo application) every packet goes back where it came from, otherwise packets
are dropped. Nothing is sent before the peer has sent something.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

log = logging.getLogger("sipnotify.media")


class MediaPort(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self._transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.echo = False
        self.received = 0

    @classmethod
    async def open(cls, host: str) -> MediaPort:
        """A port on `host` (the SIP transport's address), chosen by the kernel."""
        loop = asyncio.get_running_loop()
        _, media = await loop.create_datagram_endpoint(cls, local_addr=(host, 0))
        return media

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.port = int(transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.received += 1
        if self.echo and self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, (str(addr[0]), int(cast(int, addr[1]))))

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP error: %s", exc)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

"""RTP for one call leg (RFC 3550), kept minimal: a UDP port, packets echoed or dropped.

sipnotify does not decode or transcode media. A leg's port takes RTP from the peer; in echo
mode (the Echo application) every packet goes back where it came from; bridged to another
leg (Dial) every packet leaves through that leg's port to its phone; otherwise packets are
dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

log = logging.getLogger("sipnotify.media")


class MediaPort(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self._transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.echo = False
        self.received = 0
        self.heard = asyncio.Event()  # set by the first packet
        self._relay: tuple[MediaPort, tuple[str, int]] | None = None

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
        if self.received == 1:
            self.heard.set()
        if self._relay is not None:
            other, destination = self._relay
            other.send(data, destination)
        elif self.echo:
            self.send(data, (str(addr[0]), int(cast(int, addr[1]))))

    def relay_to(self, other: MediaPort, destination: tuple[str, int]) -> None:
        """Send what arrives here out of `other`'s port to `destination` (a bridge)."""
        self._relay = (other, destination)

    def send(self, data: bytes, destination: tuple[str, int]) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, destination)

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP error: %s", exc)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def watch(media: MediaPort, seconds: float, silent: Callable[[], None]) -> None:
    """pjsip.conf `rtp_timeout`: call `silent` once no RTP has arrived for `seconds`."""
    seen = media.received
    while True:
        await asyncio.sleep(seconds)
        if media.received == seen:
            silent()
            return
        seen = media.received

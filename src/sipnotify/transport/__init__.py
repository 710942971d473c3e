"""Thin asyncio transports: bytes in to the endpoint, bytes out to the network."""

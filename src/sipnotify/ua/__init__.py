"""The asyncio side of SIP: the endpoint adapter, its transports and routing, and the
server and client sides of the user agent."""

"""The web console's files (`<prefix>/console/`): one page, its script and its style, shipped
in the package (no build step, nothing fetched from elsewhere), read once, served with headers
that keep the page to itself (a content security policy of its own origin only, no framing,
no sniffing, no referrer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

FOLDER = Path(__file__).resolve().parent / "static"
FILES = {"": "index.html", "index.html": "index.html", "console.js": "console.js",
         "console.css": "console.css"}  # fmt: skip
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}  # fmt: skip
GUARDS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class Console:
    def __init__(self, *, head: Callable[[], dict[str, str]], prefix: Callable[[], str],
                 not_found: Callable[[], web.Response]) -> None:  # fmt: skip
        self._head = head
        self._prefix = prefix
        self._not_found = not_found
        self._files = {name: (FOLDER / file).read_bytes() for name, file in FILES.items()}

    async def file(self, request: web.Request) -> web.StreamResponse:
        name = request.path[len(self._prefix()) + len("/console/") :]
        body = self._files.get(name)
        if body is None or request.method not in ("GET", "HEAD"):
            return self._not_found()
        headers = self._head()
        headers["Content-Type"] = TYPES[Path(FILES[name]).suffix]
        headers.update(GUARDS)
        return web.Response(body=body, headers=headers)

    async def bare(self, _request: web.Request) -> web.StreamResponse:
        """`<prefix>/console` without the slash: to the page."""
        headers = self._head()
        headers["Location"] = f"{self._prefix()}/console/"
        return web.Response(status=301, headers=headers)

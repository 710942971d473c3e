"""The one way SIP parsing fails: a ParseError carrying the status to answer with."""

from __future__ import annotations


class ParseError(Exception):
    """Bytes that are not a usable SIP message; `status` is what a server answers (400, 413,
    505…) when it can answer at all."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

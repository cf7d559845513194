"""One answer, decided once, then delivered in-process (as an httpx.Response) or on a socket.

Keeping the decision apart from the delivery is what lets the same emulator run as a respx side
effect, an httpx transport and a loopback server, and fail in the same ways in each.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx

from .envelope import RouteError

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    delay: float = 0.0
    """Seconds to wait before answering (latency and fault delays)."""
    reset: bool = False
    """No answer at all: the connection is reset."""
    cut_at: int | None = None
    """Send only this many bytes of a body whose Content-Length is promised in full."""
    padding: int = 0
    """Zero bytes that follow ``body`` (an oversized download, generated, never held)."""
    fault: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    """The edit's text form fields (prompt, model, ...), for the request log."""
    cacheable: bool = False
    """A whole answer that a repeat of the request may get again (``Emulator(cache=True)``)."""

    @property
    def length(self) -> int:
        return len(self.body) + self.padding

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def with_(self, **changes: Any) -> Reply:
        return replace(self, **changes)

    def chunks(self) -> Iterator[bytes]:
        """The body as sent: cut short for ``cut_at``, padded for ``padding``."""
        if self.cut_at is not None:
            yield self.body[: self.cut_at]
            return
        for start in range(0, len(self.body), CHUNK):
            yield self.body[start : start + CHUNK]
        left = self.padding
        zeros = bytes(CHUNK)
        while left > 0:
            yield zeros[: min(left, CHUNK)]
            left -= CHUNK


def json_reply(status: int, body: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(
        status, (("content-type", "application/json"), *headers), json.dumps(body).encode()
    )


def error_reply(error: RouteError, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(error.status, (("content-type", "application/json"), *headers), error.encode())


def to_httpx(reply: Reply, request: httpx.Request) -> httpx.Response:
    """The reply as an in-process transport returns it; a reset raises what httpx would."""
    if reply.reset:
        raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
    headers = [(k, v) for k, v in reply.headers if k.lower() != "content-length"]
    headers.append(("content-length", str(reply.length)))
    if reply.cut_at is None and not reply.padding:
        return httpx.Response(reply.status, headers=headers, content=reply.body, request=request)
    return httpx.Response(
        reply.status, headers=headers, stream=_ReplyStream(reply, request), request=request
    )


class _ReplyStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A generated body, for sync and async clients alike; a cut body ends in the error
    httpx raises when a peer closes before Content-Length bytes arrived."""

    def __init__(self, reply: Reply, request: httpx.Request) -> None:
        self._reply = reply
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        yield from self._reply.chunks()
        self._check_cut()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._reply.chunks():
            yield chunk
        self._check_cut()

    def _check_cut(self) -> None:
        cut = self._reply.cut_at
        if cut is not None:
            raise httpx.RemoteProtocolError(
                f"peer closed connection without sending complete message body "
                f"(received {min(cut, len(self._reply.body))} bytes, expected "
                f"{self._reply.length})",
                request=self._request,
            )

"""In-process delivery: an httpx transport (sync and async) and ready-made clients on it."""

from __future__ import annotations

from typing import Any

import httpx

from .app import Emulator


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Every request is answered by ``emulator``; nothing leaves the process.

    One class serves ``httpx.Client`` and ``httpx.AsyncClient``, so sync and async code can
    share one emulator (and its fault plan, files and request log).
    """

    def __init__(self, emulator: Emulator | None = None) -> None:
        self.emulator = emulator if emulator is not None else Emulator()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.emulator(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.emulator.acall(request)


def offline_http_client(*, emulator: Emulator | None = None, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` answered by the emulator (``kwargs`` go to ``httpx.Client``).

    ``Client(http_client=offline_http_client(), api_key="offline")`` runs imgedit end to end
    with no network and no real key.
    """
    return httpx.Client(transport=EmulatorTransport(emulator), **kwargs)


def offline_async_http_client(
    *, emulator: Emulator | None = None, **kwargs: Any
) -> httpx.AsyncClient:
    """The async twin of :func:`offline_http_client`."""
    return httpx.AsyncClient(transport=EmulatorTransport(emulator), **kwargs)

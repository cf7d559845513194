"""``AsyncClient``: many edits in flight on one event loop, with the sync client's rules."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .client import BaseClient, PreparedEdit
from .config import Config
from .inputs import ImageSource
from .plugins import PluginSet
from .ratelimit import RateLimiter, check_rpm
from .result import EditResult
from .sentinel import NOT_GIVEN, Maybe

if TYPE_CHECKING:
    import httpx

    from .keys import KeyStore
    from .retry import RetryPolicy
    from .transport import AsyncTransport, TimeoutSpec


class AsyncClient(BaseClient):
    """The async twin of :class:`Client`: the same providers, checks, retries and timeouts,
    on an ``httpx.AsyncClient`` (no threads standing in for async).

    ``rate_limits`` caps requests a minute: a number for every provider, or a mapping of
    provider name to number (``"*"``: every other provider); ``[providers.NAME] rpm`` in
    config fills the providers it leaves out. Every attempt counts, retries included. URL
    answers download when awaited: ``await result.image.aload()`` (or ``asave``).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutSpec = None,
        max_retries: int | RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        rate_limits: float | Mapping[str, float] | None = None,
        plugins: PluginSet | None = None,
        extra_plugins: Iterable[object] = (),
        entry_points: bool = True,
        environ: Mapping[str, str] | None = None,
        config: Config | str | os.PathLike[str] | None = None,
        keys: KeyStore | Literal[False] | None = None,
        offline: bool | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            plugins=plugins,
            extra_plugins=extra_plugins,
            entry_points=entry_points,
            environ=environ,
            config=config,
            keys=keys,
            offline=offline,
        )
        if isinstance(rate_limits, Mapping):
            self._rate_limits: float | dict[str, float] | None = {
                name: check_rpm(value, f"the rate limit for {name}")
                for name, value in rate_limits.items()
            }
        else:
            self._rate_limits = None if rate_limits is None else check_rpm(rate_limits, "rpm")
        self._limiters: dict[str, RateLimiter | None] = {}
        self._http_client = http_client
        self._transport: AsyncTransport | None = None

    # -- editing -----------------------------------------------------------------------------

    def rate_limit(self, provider: str) -> float | None:
        """Requests a minute allowed to ``provider``: this client's setting, else config's."""
        limits = self._rate_limits
        if isinstance(limits, dict):
            if provider in limits:
                return limits[provider]
            if "*" in limits:
                return limits["*"]
        elif limits is not None:
            return limits
        entry = self.config.providers.get(provider)
        return entry.rpm if entry is not None else None

    def _limiter(self, provider: str) -> RateLimiter | None:
        if provider not in self._limiters:
            rpm = self.rate_limit(provider)
            self._limiters[provider] = RateLimiter(rpm) if rpm is not None else None
        return self._limiters[provider]

    async def send(
        self,
        prepared: PreparedEdit,
        *,
        max_retries: int | RetryPolicy | None = None,
        timeout: TimeoutSpec = None,
    ) -> EditResult:
        """Send a prepared edit; ``max_retries`` and ``timeout`` override the client's."""
        transport = self.transport
        provider = prepared.resolved.provider
        call_timeout, retry = self._call_limits(prepared, max_retries, timeout)
        limiter = self._limiter(provider.name)
        started = time.monotonic()
        with self._answering(prepared):
            response = await transport.asend(
                prepared.http_request,
                provider,
                retry=retry,
                timeout=call_timeout,
                before_attempt=limiter.acquire if limiter is not None else None,
            )
            result = self._parse(prepared, response, started)
        for img in result.images:
            if img.url is not None and img.async_loader is None and img.loader is None:
                img.async_loader = transport.adownload
        return result

    async def edit(
        self,
        image: ImageSource | Sequence[ImageSource],
        prompt: str,
        *,
        model: str | None = None,
        provider: str | None = None,
        mask: Maybe[ImageSource] = NOT_GIVEN,
        n: Maybe[int] = NOT_GIVEN,
        quality: Maybe[str] = NOT_GIVEN,
        size: Maybe[str] = NOT_GIVEN,
        output_format: Maybe[str] = NOT_GIVEN,
        output_compression: Maybe[int] = NOT_GIVEN,
        background: Maybe[str] = NOT_GIVEN,
        input_fidelity: Maybe[str] = NOT_GIVEN,
        response_format: Maybe[str] = NOT_GIVEN,
        user: Maybe[str] = NOT_GIVEN,
        extra: Mapping[str, Any] | None = None,
        max_retries: int | RetryPolicy | None = None,
        timeout: TimeoutSpec = None,
    ) -> EditResult:
        """As :meth:`Client.edit`, awaited. Checks run before anything is sent."""
        prepared = self.prepare(
            image,
            prompt,
            model=model,
            provider=provider,
            mask=mask,
            extra=extra,
            n=n,
            quality=quality,
            size=size,
            output_format=output_format,
            output_compression=output_compression,
            background=background,
            input_fidelity=input_fidelity,
            response_format=response_format,
            user=user,
        )
        return await self.send(prepared, max_retries=max_retries, timeout=timeout)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def transport(self) -> AsyncTransport:
        if self._transport is None:
            from .transport import AsyncTransport

            http_client = self._http_client
            owned = http_client is None
            if http_client is None and self.offline:
                from .emulator import offline_async_http_client

                http_client = offline_async_http_client()
            # The offline emulator's client is this client's own, to close with it.
            self._transport = AsyncTransport(http_client=http_client, owns_client=owned)
        return self._transport

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

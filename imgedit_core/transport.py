"""The one place requests are sent: timeouts, retries, downloads and the mapping of failures.

Providers build and parse; this module owns the httpx client, so every provider gets the same
timeouts, the same retry policy and the same typed errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidResponseError,
    RedirectError,
    UserError,
)
from .result import url_without_query
from .retry import RetryPolicy, coerce_policy, describe, retry_after_seconds

if TYPE_CHECKING:
    from .provider import Provider

log = logging.getLogger("imgedit.transport")

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0, write=600.0, pool=30.0)
"""Edits take 30-200 s upstream: a read timeout of a minute fails routinely."""

DOWNLOAD_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
TIMEOUT_PHASES = ("connect", "read", "write", "pool")

TimeoutSpec = float | httpx.Timeout | Mapping[str, float] | str | None


def coerce_timeout(timeout: TimeoutSpec) -> httpx.Timeout:
    """A number sets every phase (connect at most 10 s); ``connect=5,read=900`` sets some."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, str):
        return coerce_timeout(parse_timeout(timeout))
    if isinstance(timeout, Mapping):
        phases = DEFAULT_TIMEOUT.as_dict()
        for name, value in timeout.items():
            if name not in TIMEOUT_PHASES:
                raise UserError(f"unknown timeout phase {name!r}; use {', '.join(TIMEOUT_PHASES)}.")
            phases[name] = _positive(value, name)
        return httpx.Timeout(**phases)
    seconds = _positive(timeout, "")
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def parse_timeout(text: str) -> float | dict[str, float]:
    """``600`` or ``connect=5,read=900,write=60,pool=10``, as ``--timeout`` takes it."""
    text = text.strip()
    if "=" not in text:
        return _positive(text, "")
    phases: dict[str, float] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in TIMEOUT_PHASES:
            raise UserError(
                f"unknown timeout phase {name!r} in {text!r}; "
                f"use e.g. connect=5,read=900 (phases: {', '.join(TIMEOUT_PHASES)})."
            )
        phases[name] = _positive(value, name)
    return phases


def _positive(value: object, phase: str) -> float:
    what = f"the {phase} timeout" if phase else "the timeout"
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError(
            f"{what} must be a number of seconds, not {value!r} (e.g. 600, or connect=5,read=900)."
        ) from None
    if not seconds > 0 or seconds == float("inf"):
        raise UserError(f"{what} must be more than 0 seconds, not {value!r}.")
    return seconds


class _Policy:
    """What both transports share: the default timeout and retry policy, per call overridable."""

    def __init__(
        self,
        *,
        timeout: TimeoutSpec = None,
        retry: RetryPolicy | int | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self.timeout = coerce_timeout(timeout)
        self.retry = coerce_policy(retry)
        self.max_download_bytes = max_download_bytes

    def _prepare(
        self, request: httpx.Request, retry: RetryPolicy | int | None, timeout: TimeoutSpec
    ) -> RetryPolicy:
        limits = self.timeout if timeout is None else coerce_timeout(timeout)
        request.extensions["timeout"] = limits.as_dict()
        return coerce_policy(retry, self.retry)


class Transport(_Policy):
    """Sends built requests, retries what is worth retrying, and types every failure."""

    def __init__(
        self,
        *,
        timeout: TimeoutSpec = None,
        retry: RetryPolicy | int | None = None,
        http_client: httpx.Client | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(timeout=timeout, retry=retry, max_download_bytes=max_download_bytes)
        self._owns_client = http_client is None
        self._client = http_client
        self._sleep = sleep

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
        self._client = None

    def send(
        self,
        request: httpx.Request,
        provider: Provider,
        *,
        retry: RetryPolicy | int | None = None,
        timeout: TimeoutSpec = None,
    ) -> httpx.Response:
        """Send, retrying as the policy says; a 2xx answer comes back read, else a typed error.

        A key the server echoes into an error message is masked before the error is logged
        or raised.
        """
        policy = self._prepare(request, retry, timeout)
        attempt = 1
        while True:
            try:
                return _counted(self._send_once(request, provider), attempt)
            except APIError as exc:
                wait = _next_wait(policy, attempt, exc, request, provider)
                (self._sleep or _wait)(wait)
                attempt += 1

    def _send_once(self, request: httpx.Request, provider: Provider) -> httpx.Response:
        with mapped_failures(request, provider):
            # Never follow: a redirected POST would go elsewhere, and carry the key there.
            response = self.client.send(_coalesced(request), follow_redirects=False)
            response.read()
        return check_status(_unbound(response), provider)

    def download(self, url: str) -> bytes:
        """Fetch a URL output: http(s) only, bounded in size and time."""
        return download(self.client, url, self.max_download_bytes)


class AsyncTransport(_Policy):
    """The async twin: the same policy, the same typed errors, on an ``httpx.AsyncClient``.

    ``before_attempt`` runs before every attempt, retries included: where a rate limit waits.
    """

    def __init__(
        self,
        *,
        timeout: TimeoutSpec = None,
        retry: RetryPolicy | int | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        owns_client: bool | None = None,
    ) -> None:
        super().__init__(timeout=timeout, retry=retry, max_download_bytes=max_download_bytes)
        self._owns_client = http_client is None if owns_client is None else owns_client
        self._async_client = http_client

    @property
    def async_client(self) -> httpx.AsyncClient:
        if self._async_client is None:
            # Pool sized for batches: a connection per concurrent edit, never a hidden queue.
            self._async_client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            )
        return self._async_client

    async def aclose(self) -> None:
        if self._async_client is not None and self._owns_client:
            await self._async_client.aclose()
        self._async_client = None

    async def asend(
        self,
        request: httpx.Request,
        provider: Provider,
        *,
        retry: RetryPolicy | int | None = None,
        timeout: TimeoutSpec = None,
        before_attempt: Callable[[], Awaitable[None]] | None = None,
    ) -> httpx.Response:
        """As :meth:`Transport.send`, awaiting the answer and the waits between attempts."""
        policy = self._prepare(request, retry, timeout)
        attempt = 1
        while True:
            if before_attempt is not None:
                await before_attempt()
            try:
                return _counted(await self._asend_once(request, provider), attempt)
            except APIError as exc:
                wait = _next_wait(policy, attempt, exc, request, provider)
                await _async_wait(wait)
                attempt += 1

    async def _asend_once(self, request: httpx.Request, provider: Provider) -> httpx.Response:
        with mapped_failures(request, provider):
            response = await self.async_client.send(_coalesced(request), follow_redirects=False)
            await response.aread()
        return check_status(_unbound(response), provider)

    async def adownload(self, url: str) -> bytes:
        return await async_download(self.async_client, url, self.max_download_bytes)


SMALL_BODY = 256 * 1024
"""Bodies up to this size are sent as one piece; larger ones stream (from disk) as they are."""


def _coalesced(request: httpx.Request) -> httpx.Request:
    """A small multipart body, read into one piece before it is sent.

    httpx writes each form field and file of a multipart body separately: about 18 socket
    writes (and as many trips through h11 and the event loop) for an ordinary edit. Joined,
    it is one. That is most of a client's own CPU per edit, and with many edits in flight it
    decides throughput. Kept for retries; large uploads still stream from disk.
    """
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) <= SMALL_BODY:
        request.read()  # once: a read request keeps its content
    return request


def _unbound(response: httpx.Response) -> httpx.Response:
    """Drop httpx's stream wrapper, which points back at the response: without that cycle the
    body (22 MB for a 16 MB image) is freed as soon as the answer is parsed, not at the next
    garbage collection, so it is not alive while the image is decoded."""
    response.stream = httpx.ByteStream(response.content)
    return response


ATTEMPTS = "imgedit.attempts"
"""The response extension holding how many attempts the answer took."""


def _counted(response: httpx.Response, attempt: int) -> httpx.Response:
    response.extensions[ATTEMPTS] = attempt
    return response


def _next_wait(
    policy: RetryPolicy, attempt: int, exc: APIError, request: httpx.Request, provider: Provider
) -> float:
    """The pause before the next attempt, logged; or the error, raised, when it is the last."""
    exc.mask(request_secrets(request))
    wait = policy.decide(attempt, exc)
    if wait is None:
        if attempt > 1:
            exc.gave_up_after(attempt)
        raise exc
    log.warning(
        "%s from %s; retrying in %.1f s (retry %d of %d)",
        describe(exc),
        provider.name,
        wait,
        attempt,
        policy.max_retries,
    )
    return wait


@contextmanager
def mapped_failures(request: httpx.Request, provider: Provider) -> Iterator[None]:
    """httpx's timeouts and transport failures as imgedit's typed errors, sync or async."""
    try:
        yield
    except httpx.TimeoutException as exc:
        phase = _phase(exc)
        raise APITimeoutError(
            f"no answer within the {phase} timeout ({_phase_words(phase)})",
            provider=provider.name,
            phase=phase,
        ) from None
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"connection to {request.url.host} failed: {type(exc).__name__}"
            + (f" ({exc})" if str(exc) else ""),
            provider=provider.name,
        ) from None


def check_status(response: httpx.Response, provider: Provider) -> httpx.Response:
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("location", "nowhere")
        raise RedirectError(
            f"the server redirected ({status}) to {location} instead of answering",
            status=status,
            provider=provider.name,
        )
    if status >= 400 or status < 200:
        error = provider.parse_error(response)
        if error.retry_after is None:  # a plugin's parser may not read the header
            error.retry_after = retry_after_seconds(response.headers)
        raise error
    return response


def download(client: httpx.Client, url: str, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
    parsed = _download_url(url)
    chunks = _DownloadBuffer(parsed, limit)
    with (
        _download_failures(parsed),
        client.stream("GET", parsed, timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as r,
    ):
        chunks.check_status(r.status_code)
        for chunk in r.iter_bytes():
            chunks.add(chunk)
    return chunks.join()


async def async_download(
    client: httpx.AsyncClient, url: str, limit: int = MAX_DOWNLOAD_BYTES
) -> bytes:
    parsed = _download_url(url)
    chunks = _DownloadBuffer(parsed, limit)
    with _download_failures(parsed):
        async with client.stream(
            "GET", parsed, timeout=DOWNLOAD_TIMEOUT, follow_redirects=True
        ) as r:
            chunks.check_status(r.status_code)
            async for chunk in r.aiter_bytes():
                chunks.add(chunk)
    return chunks.join()


def _download_url(url: str) -> httpx.URL:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise InvalidResponseError(f"refusing to download the image from a {parsed.scheme!r} URL")
    return parsed


class _DownloadBuffer:
    """Each read is bounded by the timeout; the whole download is bounded by it too, so a
    server trickling a byte at a time cannot hold an edit for ever; and by size."""

    def __init__(self, url: httpx.URL, limit: int) -> None:
        self.url, self.limit = url, limit
        self.allowed = DOWNLOAD_TIMEOUT.read or 120.0
        self.deadline = time.monotonic() + self.allowed
        self.chunks: list[bytes] = []
        self.total = 0

    def check_status(self, status: int) -> None:
        if status != 200:
            raise InvalidResponseError(
                f"downloading the image from {_safe(self.url)} failed with HTTP {status}"
            )

    def add(self, chunk: bytes) -> None:
        if time.monotonic() > self.deadline:
            raise APITimeoutError(
                f"downloading the image from {_safe(self.url)} took longer than "
                f"{self.allowed:g} s; not saved",
                phase="read",
            )
        self.total += len(chunk)
        if self.total > self.limit:
            raise InvalidResponseError(
                f"the image at {_safe(self.url)} is larger than {self.limit} bytes; not saved"
            )
        self.chunks.append(chunk)

    def join(self) -> bytes:
        return b"".join(self.chunks)


@contextmanager
def _download_failures(url: httpx.URL) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException:
        raise APITimeoutError(f"downloading the image from {_safe(url)} timed out") from None
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"downloading the image from {_safe(url)} failed: {type(exc).__name__}"
        ) from None


def request_secrets(request: httpx.Request) -> list[str]:
    """The credentials a request carries, so nothing derived from its answer repeats them."""
    found = []
    for name in ("authorization", "x-api-key", "api-key", "proxy-authorization"):
        value = request.headers.get(name)
        if value:
            found.append(value)
            _, _, token = value.partition(" ")
            if token:
                found.append(token)
    return found


def _safe(url: httpx.URL) -> str:
    return url_without_query(str(url))


def _wait(seconds: float) -> None:
    """The pause between attempts; one module-level name so a test run can skip the waiting."""
    time.sleep(seconds)


async def _async_wait(seconds: float) -> None:
    """The async pause between attempts (tests replace it as they replace ``_wait``)."""
    import asyncio

    await asyncio.sleep(seconds)


def _phase(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "pool",
    }.get(type(exc), "read")


def _phase_words(phase: str) -> str:
    return {
        "connect": "connecting",
        "read": "waiting for the answer",
        "write": "uploading",
        "pool": "waiting for a free connection",
    }[phase]

"""The one place requests are sent: timeouts, retries, downloads and the mapping of failures.

Providers build and parse; this module owns the httpx client, so every provider gets the same
timeouts, the same retry policy and the same typed errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
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


class Transport:
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
        self.timeout = coerce_timeout(timeout)
        self.retry = coerce_policy(retry)
        self._owns_client = http_client is None
        self._client = http_client
        self.max_download_bytes = max_download_bytes
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
        policy = coerce_policy(retry, self.retry)
        limits = self.timeout if timeout is None else coerce_timeout(timeout)
        request.extensions["timeout"] = limits.as_dict()
        attempt = 1
        while True:
            try:
                return self._send_once(request, provider)
            except APIError as exc:
                exc.mask(request_secrets(request))
                wait = policy.decide(attempt, exc)
                if wait is None:
                    if attempt > 1:
                        exc.gave_up_after(attempt)
                    raise
                log.warning(
                    "%s from %s; retrying in %.1f s (retry %d of %d)",
                    describe(exc),
                    provider.name,
                    wait,
                    attempt,
                    policy.max_retries,
                )
                (self._sleep or _wait)(wait)
                attempt += 1

    def _send_once(self, request: httpx.Request, provider: Provider) -> httpx.Response:
        try:
            # Never follow: a redirected POST would go elsewhere, and carry the key there.
            response = self.client.send(request, follow_redirects=False)
            response.read()
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
        return check_status(response, provider)

    def download(self, url: str) -> bytes:
        """Fetch a URL output: http(s) only, bounded in size and time."""
        return download(self.client, url, self.max_download_bytes)


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
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise InvalidResponseError(f"refusing to download the image from a {parsed.scheme!r} URL")
    try:
        with client.stream("GET", parsed, timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as r:
            if r.status_code != 200:
                raise InvalidResponseError(
                    f"downloading the image from {_safe(parsed)} failed with HTTP {r.status_code}"
                )
            chunks: list[bytes] = []
            total = 0
            # Each read is bounded by the timeout; the whole download is bounded by it too, so
            # a server trickling a byte at a time cannot hold an edit for ever.
            allowed = DOWNLOAD_TIMEOUT.read or 120.0
            deadline = time.monotonic() + allowed
            for chunk in r.iter_bytes():
                if time.monotonic() > deadline:
                    raise APITimeoutError(
                        f"downloading the image from {_safe(parsed)} took longer than "
                        f"{allowed:g} s; not saved",
                        phase="read",
                    )
                total += len(chunk)
                if total > limit:
                    raise InvalidResponseError(
                        f"the image at {_safe(parsed)} is larger than {limit} bytes; not saved"
                    )
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise APITimeoutError(f"downloading the image from {_safe(parsed)} timed out") from None
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"downloading the image from {_safe(parsed)} failed: {type(exc).__name__}"
        ) from None
    return b"".join(chunks)


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

"""The one place requests are sent: timeouts, downloads and the mapping of failures to errors.

Providers build and parse; this module owns the httpx client, so every provider gets the same
timeouts and the same typed errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from .errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidResponseError,
    RedirectError,
)
from .result import url_without_query

if TYPE_CHECKING:
    from .provider import Provider

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0, pool=30.0)
"""Edits take 30-200 s upstream: a read timeout of a minute fails routinely."""

DOWNLOAD_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024


def coerce_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(float(timeout), connect=min(float(timeout), 10.0))


class Transport:
    """Sends built requests and turns every failure into an :class:`~imgedit_core.APIError`."""

    def __init__(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        http_client: httpx.Client | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self.timeout = coerce_timeout(timeout)
        self._owns_client = http_client is None
        self._client = http_client
        self.max_download_bytes = max_download_bytes

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
        self._client = None

    def send(self, request: httpx.Request, provider: Provider) -> httpx.Response:
        """Send once; a 2xx answer comes back read, anything else raises a typed error."""
        request.extensions.setdefault("timeout", self.timeout.as_dict())
        try:
            response = self.client.send(request)
            response.read()
        except httpx.TimeoutException as exc:
            raise APITimeoutError(
                f"no answer within the timeout ({_phase(exc)})", provider=provider.name
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
        raise provider.parse_error(response)
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
            for chunk in r.iter_bytes():
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


def _phase(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connecting",
        httpx.ReadTimeout: "waiting for the answer",
        httpx.WriteTimeout: "uploading",
        httpx.PoolTimeout: "waiting for a free connection",
    }.get(type(exc), "timeout")

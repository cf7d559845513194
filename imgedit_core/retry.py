"""When a failed edit is sent again, and how long to wait first.

Every retry of an edit that reached the model may be billed again, so the policy retries only
failures where the server says "try again" (408, 409, 429, 5xx other than a malformed request)
or the connection broke, never a refusal of the request itself, and never a read timeout
unless asked: an edit that ran out the clock has usually been run, and paid for, upstream.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping

import attrs

from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    UserError,
)

DEFAULT_MAX_RETRIES = 2
RETRY_STATUSES = frozenset({408, 409, 429})


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, deferring to the server's own delay."""

    max_retries: int = attrs.field(default=DEFAULT_MAX_RETRIES)
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_server_delay: float = 120.0
    """A server asking for a longer wait than this is not retried: the error says how long."""
    jitter: float = 0.25
    """Up to this fraction is taken off each computed delay, so many clients spread out."""
    retry_read_timeouts: bool = False

    @max_retries.validator
    def _check_max_retries(self, _: object, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"max_retries must be a whole number of 0 or more, not {value!r}.")

    def evolve(self, **changes: object) -> RetryPolicy:
        return attrs.evolve(self, **changes)  # type: ignore[arg-type]

    def retryable(self, error: APIError) -> bool:
        """Whether this failure is worth sending the same edit again."""
        if error.retryable is not None:  # the provider said so (e.g. fal's X-Fal-Retryable)
            return error.retryable
        if isinstance(error, APITimeoutError):
            return error.phase != "read" or self.retry_read_timeouts
        if isinstance(error, APIConnectionError):
            return True
        if isinstance(error, BadRequestError):  # includes CometAPI's 500 invalid_request
            return False
        if isinstance(error, APIStatusError) and error.status is not None:
            return error.status in RETRY_STATUSES or error.status >= 500
        return False

    def delay(
        self, retry: int, error: APIError, rand: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if error.retry_after is not None and 0 <= error.retry_after <= self.max_server_delay:
            return error.retry_after
        computed: float = min(self.initial_delay * 2.0 ** (retry - 1), self.max_delay)
        return computed * (1 - self.jitter * rand())

    def decide(self, attempt: int, error: APIError) -> float | None:
        """The wait before the next attempt after ``attempt`` failed, or None to give up."""
        if attempt > self.max_retries or not self.retryable(error):
            return None
        if error.retry_after is not None and error.retry_after > self.max_server_delay:
            return None
        return self.delay(attempt, error)


def coerce_policy(
    value: RetryPolicy | int | None, default: RetryPolicy | None = None
) -> RetryPolicy:
    base = default or RetryPolicy()
    if value is None:
        return base
    if isinstance(value, RetryPolicy):
        return value
    return base.evolve(max_retries=value)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The server's requested delay: ``retry-after-ms``, then ``retry-after`` (seconds or date)."""
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    import email.utils
    import time

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _seconds(text: str | None) -> float | None:
    """A finite, non-negative number, or None: ``nan`` and ``inf`` are not delays."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return max(value, 0.0) if math.isfinite(value) else None


def describe(error: APIError) -> str:
    """A short reason for a retry log line: ``HTTP 503`` or ``connection reset``."""
    if error.status is not None:
        code = f" {error.code}" if error.code else ""
        return f"HTTP {error.status}{code}"
    return error.message

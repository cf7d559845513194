"""Requests-per-minute limits for many edits at once: spaced evenly, retries included."""

from __future__ import annotations

import asyncio
import time

from .errors import UserError


class RateLimiter:
    """At most ``per_minute`` request starts a minute, spaced ``60 / per_minute`` apart.

    Even spacing rather than bursts: a provider that counts per minute sees a steady flow, and
    a batch's retries wait their turn like first attempts (they are requests too).
    """

    def __init__(self, per_minute: float) -> None:
        self.per_minute = check_rpm(per_minute, "a requests-per-minute limit")
        self.interval = 60.0 / self.per_minute
        self._next = 0.0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"RateLimiter({self.per_minute:g}/min)"

    async def acquire(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


def check_rpm(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UserError(
            f"{what} must be a number of requests a minute above 0 (e.g. 60), not {value!r}."
        )
    if value == float("inf"):
        raise UserError(f"{what} must be a finite number, not {value!r}; leave it out for none.")
    return float(value)

"""What the emulator saw: one record per request, to count requests and prove overlap."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    started: float
    """``time.monotonic()`` when the request arrived."""
    ended: float
    """``time.monotonic()`` when the answer was sent (or the connection reset)."""
    status: int | None
    """The status sent; None when no answer was (a reset)."""
    fault: str | None = None
    """The fault spec applied to this request, if any."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """An edit's text form fields (first value of each): prompt, model, size, ..."""


class RequestLog:
    """Thread-safe: server threads append while a test reads."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for r in self.records()
            if (method is None or r.method == method) and (path is None or r.path == path)
        )

    def peak_concurrency(self) -> int:
        """The most requests in flight at one moment (an end at t does not overlap a start at t)."""
        events = sorted(
            [(r.started, 1) for r in self.records()] + [(r.ended, -1) for r in self.records()]
        )
        peak = current = 0
        for _, step in events:
            current += step
            peak = max(peak, current)
        return peak

"""Fault injection: what can go wrong between a client and the route, written as short specs.

A spec is text so that the CLI (``--fault``), a request header (``X-Imgedit-Emulator-Fault``)
and Python all say faults the same way::

    SPEC   := KIND [":" PARAM ("," PARAM)*] ["*" COUNT]
    PARAM  := NAME "=" VALUE

``*COUNT`` repeats the fault in a plan (``503*2``). Every kind takes ``delay=SECONDS`` (wait
before answering). The kinds:

=====================  ============================================================================
``ok``                 no fault (a placeholder in a plan: ``503``, ``ok``, ``503``)
``latency=S``          wait S seconds, then answer normally
``STATUS``             200 or 400-599: that status with the route's error envelope. Params:
                       ``retry-after=S|none``, ``retry-after-ms=MS``, ``code=``, ``message=``,
                       ``type=``, ``body=html`` (an HTML error page instead of JSON). 429 sends
                       ``retry-after: 1`` unless told otherwise; 200 is an error envelope
                       with status 200.
``invalid-request``    500 with ``code: invalid_request`` (CometAPI's malformed-request answer)
``reset``              no answer: the connection is reset (loopback: RST; in-process:
                       ``httpx.ReadError``)
``truncate``           the answer's JSON cut at ``at=BYTES`` (default: half), framed as complete
``early-close``        ``Content-Length`` promises the whole body, the connection closes after
                       ``at=BYTES`` (in-process: ``httpx.RemoteProtocolError``)
``html``               a 200 HTML page (``status=N`` for another status)
``redirect``           a 301 to ``to=URL`` (default https://www.cometapi.com/; ``status=30x``)
``bad-b64``            the answer's ``b64_json`` values are not valid base64
``oversize``           URL outputs: the download is ``bytes=N`` long (default 64 MiB + 1)
``not-image``          URL outputs: the download is not an image (``type=`` its content type,
                       default image/png)
=====================  ============================================================================
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

FAULT_HEADER = "X-Imgedit-Emulator-Fault"

DEFAULT_OVERSIZE = 64 * 1024 * 1024 + 1
DEFAULT_REDIRECT = "https://www.cometapi.com/"

#: Kinds, and the parameters each takes besides ``delay``.
KINDS: dict[str, frozenset[str]] = {
    "ok": frozenset(),
    "latency": frozenset(),
    "status": frozenset({"retry-after", "retry-after-ms", "code", "message", "type", "body"}),
    "invalid-request": frozenset({"retry-after", "retry-after-ms", "message"}),
    "reset": frozenset(),
    "truncate": frozenset({"at"}),
    "early-close": frozenset({"at"}),
    "html": frozenset({"status"}),
    "redirect": frozenset({"to", "status"}),
    "bad-b64": frozenset(),
    "oversize": frozenset({"bytes"}),
    "not-image": frozenset({"type"}),
}
#: Faults that change the answer to a good request rather than replacing it.
AFTER_ANSWER = frozenset({"truncate", "early-close", "bad-b64", "oversize", "not-image"})

GRAMMAR = (
    "SPEC is KIND[:NAME=VALUE,...][*COUNT]; KIND is ok, latency=SECONDS, a status (200 or "
    "400-599), invalid-request, reset, truncate, early-close, html, redirect, bad-b64, "
    "oversize or not-image; every kind takes delay=SECONDS. Examples: 503, "
    "429:retry-after=2, latency=0.05, 503*2, truncate:at=40, redirect:to=https://example.com/"
)


class FaultSpecError(ValueError):
    """A fault spec that does not parse; the message shows the grammar."""


@dataclass(frozen=True)
class Fault:
    """One parsed fault. ``status`` is set for the STATUS kind (and invalid-request: 500)."""

    kind: str
    spec: str
    delay: float = 0.0
    status: int | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    def number(self, name: str, default: float) -> float:
        value = self.params.get(name)
        return default if value is None else float(value)

    def __str__(self) -> str:
        return self.spec


def parse_fault(spec: str) -> list[Fault]:
    """Parse one spec into its faults (``503*2`` is two). Raises FaultSpecError."""
    text = spec.strip()
    count = 1
    if "*" in text:
        text, _, repeat = text.rpartition("*")
        if not repeat.isdigit() or int(repeat) < 1:
            raise FaultSpecError(f"bad repeat count {repeat!r} in fault {spec!r}. {GRAMMAR}")
        count = int(repeat)
    head, _, tail = text.partition(":")
    head = head.strip().lower()
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in tail.split(","))):
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise FaultSpecError(
                f"parameter {item!r} in fault {spec!r} is not NAME=VALUE. {GRAMMAR}"
            )
        params[name.strip().lower()] = value.strip()
    kind, status = _kind(head, spec, params)
    allowed = KINDS[kind] | {"delay"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed))
        raise FaultSpecError(
            f"fault {spec!r}: unknown parameter {unknown[0]!r}; {kind} takes {takes}. {GRAMMAR}"
        )
    _check_values(spec, params)
    delay = float(params.pop("delay", "0"))
    fault = Fault(kind, text.strip(), delay, status, params)
    return [fault] * count


def _kind(head: str, spec: str, params: dict[str, str]) -> tuple[str, int | None]:
    if head.startswith("latency="):
        params["delay"] = head.partition("=")[2]
        return "latency", None
    if head.isdigit():
        status = int(head)
        if status != 200 and not 400 <= status <= 599:
            raise FaultSpecError(
                f"fault {spec!r}: status {status} is not 200 or 400-599 (use redirect for "
                f"3xx). {GRAMMAR}"
            )
        return "status", status
    if head == "invalid-request":
        return head, 500
    if head not in KINDS or head == "status":
        raise FaultSpecError(f"unknown fault {head!r} in {spec!r}. {GRAMMAR}")
    return head, None


_NUMBERS = ("delay", "retry-after-ms", "at", "bytes", "status")


def _check_values(spec: str, params: dict[str, str]) -> None:
    for name in _NUMBERS:
        value = params.get(name)
        if value is None:
            continue
        try:
            number = float(value)
        except ValueError:
            raise FaultSpecError(
                f"fault {spec!r}: {name}={value!r} is not a number. {GRAMMAR}"
            ) from None
        if not math.isfinite(number) or number < 0:
            raise FaultSpecError(f"fault {spec!r}: {name}={value!r} must be 0 or more")
    retry_after = params.get("retry-after")
    if retry_after not in (None, "none"):
        try:
            float(retry_after)
        except ValueError:
            raise FaultSpecError(
                f"fault {spec!r}: retry-after={retry_after!r} is not seconds or 'none'"
            ) from None
    if params.get("body", "html") != "html":
        raise FaultSpecError(f"fault {spec!r}: body takes only 'html'")


class FaultPlan:
    """A queue of faults, consumed one per request, safe across server threads."""

    def __init__(self, specs: Iterable[str | Fault] = ()) -> None:
        self._queue: collections.deque[Fault] = collections.deque()
        self._lock = threading.Lock()
        self.extend(specs)

    def extend(self, specs: Iterable[str | Fault]) -> None:
        faults: list[Fault] = []
        for spec in specs:
            faults.extend([spec] if isinstance(spec, Fault) else parse_fault(spec))
        with self._lock:
            self._queue.extend(faults)

    def next(self) -> Fault | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def pending(self) -> list[str]:
        with self._lock:
            return [f.spec for f in self._queue]

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

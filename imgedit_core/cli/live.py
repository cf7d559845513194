"""The one redrawn line on stderr: a spinner while an edit is waited for, a bar for a batch.

Edits take minutes, so a silent terminal looks hung; but a redrawn line is noise anywhere a
person is not watching. So the line is drawn only on a terminal (see ``live_enabled``), and log
lines (retries, ``-v``) go through ``echo_above`` so they print on a clean line above it instead
of being glued to a frame. Only the standard library is used: this loads with every command.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

import click

NO_PROGRESS_ENV = "IMGEDIT_NO_PROGRESS"
"""Set to anything but ``0``/``false``/``no``/``off`` to turn the spinner and the bar off."""

UNICODE_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_FRAMES = "|/-\\"
_CLEAR = "\r\x1b[K"  # back to column 0, erase to the end of the line
_OFF_VALUES = ("", "0", "false", "no", "off")

# Whatever live line is on screen now. Spinner threads, the batch's event loop and log handlers
# all take this lock before they write to the terminal, so their writes never interleave.
_LOCK = threading.RLock()
_active: _LiveLine | None = None


def live_enabled(quiet: bool, stream: TextIO | None = None) -> bool:
    """Draw a live line only for a person watching a capable terminal.

    Off with ``--quiet``, when ``stream`` (default stderr) is not a TTY (piped, redirected, CI,
    click's test runner), with ``TERM=dumb`` (no cursor control: Emacs shells, some CI logs),
    and when ``IMGEDIT_NO_PROGRESS`` is set.
    """
    if quiet:
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get(NO_PROGRESS_ENV, "").strip().lower() not in _OFF_VALUES:
        return False
    return _isatty(stream if stream is not None else sys.stderr)


def echo_above(message: str, *, err: bool = True) -> None:
    """Print one line on stderr (or stdout with ``err=False``) above any live line.

    The live line is erased, the message printed, and the live line drawn again below it. It
    goes through click, so tests capture it. Use ``err=False`` for stdout lines printed while a
    live line is up (a batch's output paths): stdout is often the same terminal.
    """
    with _LOCK:
        line = _active
        if line is not None:
            line._erase()
        click.echo(message, err=err)
        if line is not None:
            line._draw()


class _LiveLine:
    """A line that redraws itself in place; subclasses say what it reads."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self._unicode = _can_print(self.stream, UNICODE_FRAMES + "·")
        self._drawn = False
        self._broken = False  # the terminal went away: stop writing, never fail the command

    def _render(self, width: int) -> str:
        raise NotImplementedError

    def _draw(self) -> None:
        """Replace what is on the line with the current state (call with ``_LOCK`` held)."""
        width = _columns(self.stream)
        self._write(_CLEAR + _fit(self._render(width), width - 1, self._unicode))
        self._drawn = True

    def _erase(self) -> None:
        if self._drawn:
            self._write(_CLEAR)
            self._drawn = False

    def _write(self, text: str) -> None:
        if self._broken:
            return
        encoding = getattr(self.stream, "encoding", None)
        try:
            if encoding:  # a label the terminal cannot print becomes "?", not an exception
                text = text.encode(encoding, "replace").decode(encoding)
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError, LookupError):  # closed stream, vanished terminal (EIO)
            self._broken = True

    def _show(self) -> None:
        global _active
        with _LOCK:
            _active = self
            self._draw()

    def _hide(self) -> None:
        global _active
        with _LOCK:
            self._erase()
            if _active is self:
                _active = None

    @property
    def _sep(self) -> str:
        return " · " if self._unicode else ", "


class Spinner(_LiveLine):
    """``⠹ editing with gpt-image-2 via cometapi-gpt-image · 12 s`` while a block runs.

    A context manager; with ``enabled=False`` it does nothing at all. The frames are drawn by a
    daemon thread every ``interval`` seconds; on leaving the block, however it is left (an
    answer, an error, Ctrl-C), the line is erased so the terminal is left clean.
    """

    def __init__(
        self,
        label: str,
        *,
        enabled: bool,
        stream: TextIO | None = None,
        interval: float = 0.1,
    ) -> None:
        super().__init__(stream)
        self.enabled = enabled
        self.interval = interval
        self._label = _one_line(label)
        self._frames = UNICODE_FRAMES if self._unicode else ASCII_FRAMES
        self._frame = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, label: str) -> None:
        """Say something else from now on (say, which retry is waited for)."""
        with _LOCK:
            self._label = _one_line(label)
            if self._thread is not None:
                self._draw()

    def __enter__(self) -> Spinner:
        if not self.enabled:
            return self
        self._started = time.monotonic()
        self._show()
        self._thread = threading.Thread(target=self._spin, name="imgedit-spinner", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            return
        self._stop.set()
        # A terminal paused with Ctrl-S blocks the thread's write: never hang the exit on it.
        self._thread.join(timeout=1.0)
        self._thread = None
        self._hide()

    def _spin(self) -> None:
        while not self._stop.wait(self.interval):
            with _LOCK:
                if self._stop.is_set():
                    return
                self._frame += 1
                self._draw()

    def _render(self, width: int) -> str:
        frame = self._frames[self._frame % len(self._frames)]
        elapsed = duration(time.monotonic() - self._started)
        return f"{frame} {self._label}{self._sep}{elapsed}"


class BatchProgress(_LiveLine):
    """What a batch is doing, on stderr.

    ``live=True``: one redrawn line, ``imgedit: [#####-----] 42/120 · 40 ok · 2 failed ·
    3 skipped · 16 running · ETA 3m12s``, plus each failure as its own line above it, so no
    reason is lost when the bar moves on. ``live=False``: one plain line per finished job, for
    logs. ``quiet=True``: only the failures. Called from one thread (the batch's event loop);
    the live line is redrawn by a daemon thread at most ~10 times a second, after every change
    and once a second for the ETA.
    """

    MAX_FPS_INTERVAL = 0.1
    TICK = 1.0
    _WORDING = (
        ("ok", "failed", "skipped", "running"),
        ("ok", "failed", "skipped"),
        ("ok", "failed"),
        ("failed",),
    )

    def __init__(
        self,
        total: int,
        *,
        live: bool,
        quiet: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(stream)
        self.total = total
        self.live = live and not quiet
        self.quiet = quiet
        self.counts = {"ok": 0, "failed": 0, "skipped": 0}
        self._running: dict[str, float] = {}
        self._peak = 0
        self._spent: list[float] = []  # seconds of each finished job that was not skipped
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        if self.live:
            self._show()
            self._thread = threading.Thread(target=self._tick, name="imgedit-progress", daemon=True)
            self._thread.start()

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def started(self, job: str) -> None:
        with _LOCK:
            self._running[job] = time.monotonic()
            self._peak = max(self._peak, len(self._running))
        self._dirty.set()

    def finished(self, job: str, status: str, detail: str, seconds: float | None = None) -> None:
        """``status`` is ``ok``, ``failed`` or ``skipped``; ``detail`` the output or the reason."""
        if status not in self.counts:
            raise ValueError(f"status must be ok, failed or skipped, not {status!r}")
        with _LOCK:
            began = self._running.pop(job, None)
            if seconds is None and began is not None:
                seconds = time.monotonic() - began
            self.counts[status] += 1
            if status != "skipped" and seconds is not None:
                self._spent.append(seconds)
            if status == "failed" or not (self.quiet or self.live):
                self._print(self._job_line(job, status, detail, seconds))
        self._dirty.set()

    def close(self) -> None:
        """Erase the bar (the caller prints its summary on a clean line); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._stop.set()
            self._dirty.set()
            self._thread.join(timeout=1.0)
            self._thread = None
            self._hide()
        self.live = False  # a late report prints as a plain line, never a bar left behind

    def __enter__(self) -> BatchProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left, from the average job time and the concurrency seen; None without data.

        The queued jobs share the workers; each running job still needs about the average less
        what it has already run. Skipped jobs cost nothing and do not count toward the average.
        """
        if not self._spent:
            return None
        now = time.monotonic() if now is None else now
        average = sum(self._spent) / len(self._spent)
        workers = max(self._peak, 1)
        queued = max(self.total - self.done - len(self._running), 0)
        running_left = [max(average - (now - began), 0.0) for began in self._running.values()]
        work = queued * average + sum(running_left)
        return max(work / workers, max(running_left, default=0.0))

    def _print(self, text: str) -> None:
        """A finished job's own line, above the bar when there is one (``_LOCK`` held)."""
        from ..redact import known_secrets, redact

        text = redact(text, known_secrets(os.environ))
        if self.live:
            self._erase()
            self._write(text + "\n")
            self._draw()
        else:
            click.echo(text, file=self.stream)

    def _job_line(self, job: str, status: str, detail: str, seconds: float | None) -> str:
        head = f"imgedit: [{self.done}/{self.total}] {status} {_one_line(job)}"
        detail = _one_line(detail)
        if detail:
            head += f" -> {detail}" if status == "ok" else f": {detail}"
        if status == "ok" and seconds is not None:
            head += f" ({seconds:.1f} s)"
        return head

    def _render(self, width: int) -> str:
        sep = self._sep
        most = str(self.total)
        counts = {**self.counts, "running": len(self._running)}
        # Sized for the widest line this batch can have, so the bar keeps its length; on a narrow
        # terminal the running and skipped counts go before the ETA would be cut off.
        for words in self._WORDING:
            widest = sep.join([f"{most}/{most}", *(f"{most} {w}" for w in words), "ETA 59m59s"])
            room = width - 1 - len("imgedit: [] ") - len(widest)
            if room >= 8:
                break
        bar_width = min(max(room, 5), 30)
        filled = bar_width * self.done // self.total if self.total else bar_width
        eta = self.eta()
        tail = sep.join(
            [
                f"{self.done}/{self.total}",
                *(f"{counts[w]} {w}" for w in words if counts[w] or w != "skipped"),
                "ETA --" if eta is None else f"ETA {duration(-(-eta // 1))}",
            ]
        )
        return f"imgedit: [{'#' * filled}{'-' * (bar_width - filled)}] {tail}"

    def _tick(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(self.TICK)  # a change, or a second passed (the ETA moves)
            self._dirty.clear()
            with _LOCK:
                if self._stop.is_set():
                    return
                self._draw()
            self._stop.wait(self.MAX_FPS_INTERVAL)


def duration(seconds: float) -> str:
    """``12 s``, ``3m12s``, ``1h05m`` (whole units, rounded down): short enough for a status
    line."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _can_print(stream: TextIO, text: str) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _columns(stream: TextIO) -> int:
    """The terminal's width now (it may have been resized), else $COLUMNS, else 80."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        try:
            return int(os.environ.get("COLUMNS", "")) or 80
        except ValueError:
            return 80


def _fit(text: str, width: int, unicode: bool = True) -> str:
    """Never wrap: a wrapped line cannot be erased with one carriage return."""
    width = max(width, 10)
    if len(text) <= width:
        return text
    more = "…" if unicode else "..."
    return text[: width - len(more)] + more


def _one_line(text: str) -> str:
    return " ".join(str(text).split())

"""The batch journal: what each job did, appended and fsynced as it happens.

One JSON object a line, never rewritten: ``run`` when a run starts, ``sent`` just before a
job's request goes out, ``done`` (its outputs with their checksums) before the outputs are put
in place, ``failed`` with the reason. Only ``done`` finishes a job. A rerun reads it back to
skip finished jobs, finish the ones a crash interrupted, and say which were in flight (and so
may have been billed). A lock (flock) keeps two batches from writing one journal at once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from ..errors import UserError

JOURNAL_PREFIX = ".imgedit-batch."
EVENTS = ("run", "sent", "done", "failed")
ENTRY_START = b'{"event":'  # how every entry starts (it is written first, without spaces)


def default_journal_path(jobs_file: Path, outputs: Iterable[Path], out_dir: Path | None) -> Path:
    """Beside the outputs: in ``--out-dir``, else the outputs' common folder."""
    if out_dir is not None:
        folder = out_dir
    else:
        parents = sorted({str(p.parent) for p in outputs}) or [str(jobs_file.parent)]
        folder = Path(os.path.commonpath(parents))
    return folder / f"{JOURNAL_PREFIX}{jobs_file.stem}.jsonl"


@attrs.frozen
class OutputRecord:
    path: Path
    sha256: str
    bytes: int
    mtime_ns: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "bytes": self.bytes,
            "mtime_ns": self.mtime_ns,
        }


@attrs.define
class JobRecord:
    """What the journal says about one job (one fingerprint)."""

    done: Mapping[str, Any] | None = None
    """The last ``done`` entry, if the last word on the job was ``done``."""
    failed: Mapping[str, Any] | None = None
    """The last ``failed`` entry, if the last word on the job was ``failed``."""
    in_flight: bool = False
    """Sent, and neither done nor failed after: the run stopped while it was waited for."""

    @property
    def outputs(self) -> list[OutputRecord]:
        if self.done is None:
            return []
        return [
            OutputRecord(Path(o["path"]), str(o["sha256"]), int(o["bytes"]), o.get("mtime_ns"))
            for o in self.done.get("outputs", [])
        ]


@attrs.define
class JournalState:
    jobs: dict[str, JobRecord] = attrs.field(factory=dict)
    written: dict[Path, str] = attrs.field(factory=dict)
    """Every file a ``done`` entry recorded, with its checksum (the latest wins)."""
    runs: int = 0
    last_pid: int | None = None

    def add(self, entry: Mapping[str, Any]) -> None:
        event = entry.get("event")
        if event == "run":
            self.runs += 1
            pid = entry.get("pid")
            self.last_pid = pid if isinstance(pid, int) else None
            return
        key = entry.get("job")
        if not isinstance(key, str):
            return
        record = self.jobs.setdefault(key, JobRecord())
        if event == "sent":
            record.in_flight = True
        elif event == "done":
            record.done, record.failed, record.in_flight = entry, None, False
            for out in record.outputs:
                self.written[out.path] = out.sha256
        elif event == "failed":
            record.done, record.failed, record.in_flight = None, entry, False


class JournalError(UserError):
    """The journal cannot be used: not ours, unreadable, or locked by another batch."""


def read_journal(path: Path) -> JournalState:
    """The state a journal records; an absent journal is an empty one."""
    state = JournalState()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return state
    except IsADirectoryError:
        raise JournalError(f"the journal {str(path)!r} is a folder; pass --journal FILE.") from None
    except OSError as exc:
        raise JournalError(f"cannot read the journal {str(path)!r}: {exc.strerror}.") from None
    for _, entry in _entries(path, data):
        state.add(entry)
    return state


def _entries(path: Path, data: bytes) -> Iterable[tuple[int, dict[str, Any]]]:
    from .outputs import display_path

    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except ValueError:
            if number == len(lines) and raw.startswith(ENTRY_START):
                return  # the last write, cut short by a crash: it never finished, so nothing
                # that was to follow it happened
            entry = None
        if not isinstance(entry, dict) or entry.get("event") not in EVENTS:
            if number == 1:
                raise JournalError(
                    f"{display_path(path)!r} is not an imgedit batch journal (line 1 is not a "
                    f"journal entry); is --journal pointing at the right file?"
                )
            raise JournalError(
                f"the journal {display_path(path)!r} is damaged at line {number}: it was edited, "
                f"or is not a file imgedit wrote. Move it away to start the batch over (outputs "
                f"that exist are then refused unless --force)."
            )
        yield number, entry


class Journal:
    """The open journal of a running batch: locked, appended to, fsynced after every entry."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def open(cls, path: Path) -> Journal:
        """Create or open ``path`` and take its lock; another batch holding it is an error."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+b")  # noqa: SIM115 (held until close)
        except OSError as exc:
            raise JournalError(
                f"cannot open the journal {str(path)!r}: {exc.strerror}; pass --journal FILE "
                f"somewhere writable."
            ) from None
        if not _lock(handle):
            handle.close()
            pid = read_journal(path).last_pid
            who = f" (process {pid})" if pid else ""
            raise JournalError(
                f"another imgedit batch{who} is running with the journal {str(path)!r}; wait "
                f"for it to finish (two runs of one batch would pay for its edits twice), or "
                f"pass --journal to keep a separate one."
            )
        journal = cls(path, handle)
        journal._mend_tail()
        return journal

    def _mend_tail(self) -> None:
        """A crash mid-write can leave a last line cut short. Its fsync never returned, so
        nothing that was to follow it happened: drop the fragment, keep every whole line."""
        handle = self._handle
        handle.seek(0)
        data = handle.read()
        if not data or data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)
        self._sync()

    def state(self) -> JournalState:
        """Read under the lock: what earlier runs recorded."""
        return read_journal(self.path)

    def append(self, event: str, **fields: Any) -> None:
        entry = {"event": event, "time": round(time.time(), 3), **fields}
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._handle.seek(0, os.SEEK_END)
        self._handle.write(line.encode())
        self._sync()

    def _sync(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()  # closing releases the lock

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(handle: IO[bytes]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: no flock; running one batch twice at once is on the user
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a filesystem without locks (some network mounts): run unlocked
        return True
    return True

"""Saving a job's results in an order a crash cannot corrupt.

1. each image to a hidden partial beside its target (``.NAME.imgedit-partial``), fsynced;
2. the ``done`` entry, with each file's checksum, appended to the journal and fsynced;
3. each partial put in place (a hard link claims the name atomically, or a rename with
   ``--force``), then removed.

Killed before 2: the job is not done and is sent again; its partials are stale and deleted.
Killed between 2 and 3: the rerun finds the partial holding the recorded bytes and finishes
the move. Nothing is ever paid for twice because a file went missing in between.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import OutputError
from ..files import exists_message
from .journal import OutputRecord
from .outputs import partial_path


def commit(
    targets: Sequence[Path],
    datas: Sequence[bytes],
    record_done: Callable[[list[OutputRecord]], None],
    *,
    replace: set[Path] | frozenset[Path] = frozenset(),
) -> list[OutputRecord]:
    """Write ``datas`` to ``targets`` as above; ``record_done`` appends the journal entry.

    Raises :class:`OutputError` when a file cannot be written or a name was taken meanwhile;
    no partial is left behind whatever happens.
    """
    partials: list[Path] = []
    try:
        records = []
        for target, data in zip(targets, datas, strict=False):
            partial = partial_path(target)
            partials.append(partial)
            mtime = write_partial(partial, data)
            records.append(OutputRecord(target, hashlib.sha256(data).hexdigest(), len(data), mtime))
        record_done(records)
        for partial, out in zip(partials, records, strict=True):
            claim(partial, out.path, overwrite=out.path in replace)
        for folder in {out.path.parent for out in records}:
            sync_folder(folder)
        return records
    finally:
        for partial in partials:
            with contextlib.suppress(OSError):
                partial.unlink()


def write_partial(partial: Path, data: bytes) -> int:
    """Write and fsync; returns the file's mtime (the target keeps it: same inode)."""
    try:
        partial.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the umask applies
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            return os.fstat(fh.fileno()).st_mtime_ns
    except OSError as exc:
        raise OutputError(f"cannot write {str(partial)!r}: {exc.strerror}.") from None


def claim(partial: Path, target: Path, *, overwrite: bool) -> None:
    """Put ``partial`` in place at ``target``; without ``overwrite`` an existing target (even
    one another program created a moment ago) is refused atomically."""
    try:
        if overwrite:
            os.replace(partial, target)
            return
        try:
            os.link(partial, target)
        except FileExistsError:
            raise OutputError(
                exists_message(target)[:-1] + " (it appeared while the batch ran)."
            ) from None
        except OSError:
            # Filesystems without hard links: the existence check is the best there is.
            if target.exists():
                raise OutputError(exists_message(target)) from None
            os.replace(partial, target)
            return
        partial.unlink()
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {str(target)!r}: {exc.strerror}.") from None


def sync_folder(folder: Path) -> None:
    """Make a rename durable across a power cut, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

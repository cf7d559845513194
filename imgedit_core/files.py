"""Writing results so that a file is either whole or absent, and never silently replaced."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import OutputError


def write_atomic(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    Without ``overwrite`` an existing file is an error, checked atomically (a hard link claims
    the name), so two writers cannot both win. A missing folder is created.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create folder {str(target.parent)!r} for the output: {exc.strerror}."
        ) from None
    if not overwrite and target.exists():
        raise OutputError(exists_message(target))
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as exc:
        raise OutputError(
            f"cannot write to folder {str(target.parent)!r}: {exc.strerror}."
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), _default_mode())  # mkstemp makes 0600; follow the umask
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            _claim(tmp, target)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {str(target)!r}: {exc.strerror}.") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _claim(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputError(exists_message(target)) from None
    except OSError:
        # Filesystems without hard links: the existence check above is the best we have.
        if target.exists():
            raise OutputError(exists_message(target)) from None
        os.replace(tmp, target)


def exists_message(target: Path) -> str:
    return f"{str(target)!r} already exists; pass --force (Python: overwrite=True) to replace it."

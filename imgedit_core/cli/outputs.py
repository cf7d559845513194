"""Where results go: predictable names, decided (and checked) before anything is paid for."""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputError
from ..files import exists_message
from ..media import extension_for

INDEX_FIELD = "{index}"


def plan_outputs(
    output: str | None, first_input: Path | None, count: int, media_type: str
) -> list[Path]:
    """The paths for ``count`` images.

    No ``-o``: ``<input stem>-edited.<ext>`` beside the first input. ``-o`` a folder: the same
    name inside it. Several images: ``-1``, ``-2``... before the suffix, or ``{index}`` where the
    ``-o`` value places it.
    """
    ext = "." + extension_for(media_type)
    stem = (first_input.stem if first_input is not None else "image") + "-edited"
    if output is None:
        base = (first_input.parent if first_input is not None else Path()) / (stem + ext)
    elif output.endswith(("/", "\\")) or Path(output).is_dir():
        base = Path(output) / (stem + ext)
    else:
        base = Path(output)
    if INDEX_FIELD in str(base):
        return [Path(str(base).replace(INDEX_FIELD, str(i))) for i in range(1, count + 1)]
    if count == 1:
        return [base]
    return [base.with_name(f"{base.stem}-{i}{base.suffix}") for i in range(1, count + 1)]


def check_free(paths: list[Path], *, force: bool) -> None:
    """Refuse before sending: an edit whose result cannot be saved is money thrown away."""
    if len(set(paths)) != len(paths):
        raise OutputError("several images would be written to one path; add {index} to -o.")
    for folder in sorted({path.parent for path in paths}):
        check_folder(folder)
    if force:
        return
    for path in paths:
        if path.exists():
            raise OutputError(exists_message(path))


def check_folder(folder: Path) -> None:
    """The folder exists and takes files, or it can be created: checked before paying."""
    import os

    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(
            f"cannot create folder {str(folder)!r} for the output: {str(existing)!r} is a "
            f"file, not a folder; choose another -o."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write to {str(existing)!r} (permission denied); choose another -o."
        )

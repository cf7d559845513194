"""Where results go: predictable names, decided (and checked) before anything is paid for."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import OutputError, UserError
from .files import exists_message
from .media import FORMAT_MEDIA_TYPES, extension_for, format_for_suffix
from .sentinel import is_given

if TYPE_CHECKING:
    from .client import PreparedEdit

INDEX_FIELD = "{index}"
UNWRITABLE_SUFFIXES = frozenset({".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".ico"})


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


def output_format_for(
    given: str | None,
    output: str | None,
    settable: frozenset[str],
    default: str,
    model: str,
    *,
    option: str = "--output-format ",
) -> str | None:
    """--output-format, else what -o's suffix asks for; a contradiction is an error.

    ``option`` is how the caller's user spells the setting before its value
    (``output_format=`` in a batch's jobs), so the message speaks their language.
    """

    suffix = Path(output).suffix.lower() if output and output != "-" else ""
    wanted = format_for_suffix(suffix)
    if wanted is None and suffix in UNWRITABLE_SUFFIXES:
        raise UserError(
            f"cannot write {suffix} files: imgedit saves the PNG, JPEG or WebP the model "
            f"returns. Name the output .png, .jpg or .webp (got {output!r})."
        )
    if given is not None:
        if wanted is not None and wanted != given:
            raise UserError(
                f"{option}{given} contradicts the output name {output!r}; "
                f"name the file .{given.replace('jpeg', 'jpg')} or drop {option.strip(' =')}."
            )
        return given
    if wanted is None or wanted == default:
        return None
    if wanted in settable:
        return wanted
    raise UserError(
        f"model {model!r} answers {default} and cannot make {wanted}; "
        f"name the output .{default} (got {output!r})."
    )


def check_suffix(prepared: PreparedEdit, output: str | None) -> None:
    """A format from config must not contradict the output's name (WebP bytes in a .png)."""

    if not output or output == "-":
        return
    wanted = format_for_suffix(Path(output).suffix.lower())
    fmt = prepared.request.output_format
    if wanted is None or not is_given(fmt) or fmt == wanted:
        return
    raise UserError(
        f"output_format={fmt!r} (from config) contradicts the output name {output!r}; name the "
        f"file .{str(fmt).replace('jpeg', 'jpg')} or pass --output-format {wanted}."
    )


def expected_media_type(prepared: PreparedEdit) -> str:

    fmt = prepared.request.output_format
    caps = prepared.resolved.spec.capabilities
    name = fmt if isinstance(fmt, str) and is_given(fmt) else caps.default_output_format
    return FORMAT_MEDIA_TYPES.get(name, "image/png")

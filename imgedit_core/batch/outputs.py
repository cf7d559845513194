"""Where each job's results go: names from a template, decided before anything is sent."""

from __future__ import annotations

import string
from pathlib import Path

DEFAULT_TEMPLATE = "{stem}.{ext}"
PLACEHOLDERS = ("id", "line", "stem", "index", "ext")
PARTIAL_SUFFIX = ".imgedit-partial"


class TemplateError(ValueError):
    """An output name with a placeholder imgedit does not know, or a malformed one."""


def check_template(template: str) -> None:
    """Raise :class:`TemplateError` for anything but the known ``{placeholders}``."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(
            f"{template!r} is not a valid output name: {exc} (write {{{{ and }}}} for a "
            f"literal brace)"
        ) from None
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            shown = "{}" if field == "" else f"{{{field}}}"
            raise TemplateError(
                f"unknown placeholder {shown} in {template!r}; use "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            )


def uses(template: str, placeholder: str) -> bool:
    return any(
        field == placeholder for _, field, _, _ in string.Formatter().parse(template) if field
    )


def expand(
    template: str,
    *,
    base: Path,
    job_id: str | None,
    line: int,
    stem: str,
    ext: str,
    count: int,
) -> list[Path]:
    """The ``count`` paths a job writes. A folder (ending in ``/``, or an existing one) gets
    the default name inside it; several images without ``{index}`` get ``-1``, ``-2``...
    before the suffix. Relative results are taken from ``base``."""
    if template.endswith(("/", "\\")) or (base / template).is_dir():
        template = template.rstrip("/\\") + "/" + DEFAULT_TEMPLATE
    values: dict[str, object] = {
        "id": job_id if job_id is not None else str(line),
        "line": line,
        "stem": stem,
        "ext": ext,
    }
    try:
        if uses(template, "index"):
            names = [template.format(**values, index=i) for i in range(1, count + 1)]
        else:
            one = Path(template.format(**values, index=1))
            names = (
                [str(one)]
                if count == 1
                else [
                    str(one.with_name(f"{one.stem}-{i}{one.suffix}")) for i in range(1, count + 1)
                ]
            )
    except (ValueError, TypeError) as exc:  # a format spec that does not fit, e.g. {stem:03d}
        raise TemplateError(f"cannot fill in {template!r}: {exc}") from None
    paths = []
    for name in names:
        path = Path(name).expanduser()
        paths.append(path if path.is_absolute() else base / path)
    return paths


def suffix_hint(template: str) -> str | None:
    """The output name as far as its suffix asks for a format (``.jpg`` does), else None:
    a name ending in ``{ext}`` takes the format from the options instead."""
    if template.endswith(("/", "\\")):
        return None
    last = template.replace("\\", "/").rsplit("/", 1)[-1]
    suffix = Path(last).suffix
    if not suffix or "{" in suffix or "}" in suffix:
        return None
    return last


def display_path(path: Path) -> str:
    """Relative to the current folder when inside it (as ``imgedit edit`` prints), else full."""
    import os

    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def partial_path(target: Path) -> Path:
    """Where a result is written before it is put in place: hidden, beside the target, and
    named after it, so a rerun after a crash can find it (and finish or remove it)."""
    return target.with_name(f".{target.name}{PARTIAL_SUFFIX}")

"""Reading a JOBS file (JSONL or CSV) into checked jobs, every problem reported at once.

A batch is hundreds of lines typed by a person or made by a script; stopping at the first bad
line would make them fix one line per run. So every line is read, every problem collected with
its line number, and the batch refuses to start until the file is clean.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import UserError
from ..request import OPTION_FIELDS

#: The keys a job line may have besides the option fields.
JOB_KEYS: tuple[str, ...] = (
    "id",
    "image",
    "images",
    "prompt",
    "model",
    "provider",
    "mask",
    "output",
    "options",
)
#: Options whose values are whole numbers (CSV cells and --option values are coerced).
INT_OPTIONS = frozenset({"n", "output_compression"})
FORMATS = ("jsonl", "csv")
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
IMAGE_SEPARATOR = ";"
MAX_LISTED = 30


@attrs.frozen
class Problem:
    """One thing wrong with one line of the JOBS file."""

    line: int
    message: str


class JobsError(UserError):
    """The JOBS file (or a job in it) cannot be run as it is; nothing was sent."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__(render_problems(source, self.problems))


def render_problems(source: str, problems: list[Problem]) -> str:
    """All problems, one per line; a message shared by many lines is said once, with the lines.

    A missing API key or an unknown default model would otherwise repeat on every line.
    """
    grouped: dict[str, list[int]] = {}
    for problem in problems:
        grouped.setdefault(problem.message, []).append(problem.line)
    count = len(problems)
    head = f"{source}: {count} problem{'s' if count != 1 else ''}; nothing was sent:"
    lines = [head]
    for message, numbers in list(grouped.items())[:MAX_LISTED]:
        lines.append(f"  {_lines_label(numbers)}: {message}")
    if len(grouped) > MAX_LISTED:
        lines.append(f"  ... and {len(grouped) - MAX_LISTED} more")
    return "\n".join(lines)


def _lines_label(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    shown = ", ".join(str(n) for n in numbers[:5])
    more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
    return f"lines {shown}{more}"


@attrs.frozen
class Job:
    """One line of the JOBS file, its paths resolved against the JOBS file's folder.

    Fields it leaves out are None (or empty): the command line's defaults fill them later.
    """

    line: int
    id: str | None = None
    images: tuple[Path, ...] = ()
    prompt: str | None = None
    model: str | None = None
    provider: str | None = None
    mask: Path | None = None
    output: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    """Request options (``size``, ``quality``, ``n``...)."""
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    """Provider-specific options (qwen's ``watermark``)."""

    @property
    def label(self) -> str:
        """How messages name the job: its line, and its id when it has one."""
        return f"line {self.line}" + (f" ({self.id})" if self.id else "")


def detect_format(path: Path, given: str | None) -> str:
    """``--format`` if given, else the suffix: .jsonl/.ndjson or .csv."""
    if given is not None:
        return given
    found = _SUFFIX_FORMATS.get(path.suffix.lower())
    if found is None:
        raise UserError(
            f"cannot tell the format of {str(path)!r} from its suffix; name it .jsonl or .csv, "
            f"or pass --format jsonl|csv."
        )
    return found


def read_jobs(path: Path, fmt: str | None = None) -> list[Job]:
    """Every job in the file; raises :class:`JobsError` listing every bad line."""
    jobs, problems = parse_jobs(path, fmt)
    if problems:
        raise JobsError(str(path), problems)
    return jobs


def parse_jobs(path: Path, fmt: str | None = None) -> tuple[list[Job], list[Problem]]:
    """The good jobs and the problems of the bad lines, so that checks of the good ones can
    report their own problems in the same message. A file with no line at all is an error."""
    fmt = detect_format(path, fmt)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"jobs file not found: {str(path)!r}.") from None
    except IsADirectoryError:
        raise UserError(f"{str(path)!r} is a folder; give a .jsonl or .csv jobs file.") from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{str(path)!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read jobs file {str(path)!r}: {exc.strerror}.") from None
    base = path.absolute().parent
    raw = _jsonl_rows(text) if fmt == "jsonl" else _csv_rows(text)
    jobs: list[Job] = []
    problems: list[Problem] = []
    first_ids: dict[str, int] = {}
    for line, row in raw:
        if isinstance(row, Problem):
            problems.append(row)
            continue
        errors: list[str] = []
        job_id = row.get("id")
        job = _job(line, row, base, errors)
        if isinstance(job_id, (str, int)) and not isinstance(job_id, bool):
            key = str(job_id).strip()
            if key in first_ids:
                errors.append(
                    f"id {key!r} is already used on line {first_ids[key]}; ids are unique"
                )
            elif key:
                first_ids[key] = line
        problems.extend(Problem(line, e) for e in errors)
        if job is not None and not errors:
            jobs.append(job)
    if not jobs and not problems:
        raise UserError(f"{str(path)!r} holds no jobs: add one edit per line.")
    return jobs, problems


# -- the two formats -----------------------------------------------------------------------


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            value = json.loads(stripped)
        except ValueError as exc:
            yield number, Problem(number, f"not valid JSON: {exc}")
            continue
        if not isinstance(value, dict):
            yield (
                number,
                Problem(number, f"a job is a JSON object ({{...}}), not {type(value).__name__}"),
            )
            continue
        yield number, value


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    import io

    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line = 0
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                header_line = line
                problem = _check_header(header)
                if problem:
                    yield line, Problem(line, problem)
                    return
                continue
            if len(cells) > len(header):
                yield (
                    line,
                    Problem(
                        line,
                        f"{len(cells)} cells but the header (line {header_line}) names "
                        f"{len(header)} columns",
                    ),
                )
                continue
            row = {name: cell for name, cell in zip(header, cells, strict=False) if cell.strip()}
            yield line, _from_csv(row)
    except csv.Error as exc:
        yield start, Problem(start, f"not valid CSV: {exc}")


def _check_header(header: list[str]) -> str | None:
    seen: set[str] = set()
    for name in header:
        if not name:
            return "the header row has an empty column name"
        if name in seen:
            return f"the header row names column {name!r} twice"
        seen.add(name)
    known = set(JOB_KEYS) | set(OPTION_FIELDS)
    for name in header:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        if close:
            return (
                f"unknown column {name!r}; did you mean {close[0]!r}? (Columns that are not "
                f"job fields are passed to the provider as options.)"
            )
    if "image" not in header and "images" not in header:
        return "the header row has no 'image' or 'images' column"
    return None


def _from_csv(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row in the JSONL shape: unknown columns go under ``options``."""
    out: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name, cell in row.items():
        if name in ("image", "images"):  # either column takes several paths, ; between them
            out[name] = [p.strip() for p in cell.split(IMAGE_SEPARATOR) if p.strip()]
        elif name == "options":
            out[name] = _csv_options_cell(cell)
        elif name in JOB_KEYS:
            out[name] = cell.strip() if name != "prompt" else cell
        else:
            options[name] = cell
    if options:
        inner = out.get("options")
        if isinstance(inner, dict):
            for name, value in options.items():
                inner.setdefault(name, value)
        elif inner is None:
            out["options"] = options
    if "image" in out and "images" not in out:
        out["images"] = out.pop("image")
    out["__csv__"] = True
    return out


def _csv_options_cell(cell: str) -> Any:
    try:
        return json.loads(cell)
    except ValueError:
        return cell  # reported as not an object, with the line


# -- one job -------------------------------------------------------------------------------


def _job(line: int, row: dict[str, Any], base: Path, errors: list[str]) -> Job | None:
    from_csv = bool(row.pop("__csv__", False))
    unknown = [k for k in row if k not in JOB_KEYS and k not in OPTION_FIELDS]
    for key in unknown:
        errors.append(_unknown_key(key))
    job_id = _id(row.get("id"), errors)
    images = _images(row, base, errors)
    prompt = _text(row, "prompt", errors)
    if prompt is not None and not prompt.strip():
        errors.append("'prompt' is empty: say what to change, or leave it out to use --prompt")
    mask_text = _text(row, "mask", errors)
    model = _text(row, "model", errors)
    provider = _text(row, "provider", errors)
    output = _text(row, "output", errors)
    if output is not None and not output.strip():
        errors.append("'output' is empty; leave it out to use --output")
    options, extra = _options(row, from_csv, errors)
    if errors:
        return None
    return Job(
        line=line,
        id=job_id,
        images=images,
        prompt=prompt,
        model=model or None,
        provider=provider or None,
        mask=resolve_path(mask_text, base) if mask_text else None,
        output=output,
        options=options,
        extra=extra,
    )


def _unknown_key(key: str) -> str:
    known = [*JOB_KEYS, *OPTION_FIELDS]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown key {key!r}{hint} A job takes {', '.join(JOB_KEYS)} and the options "
        f'{", ".join(OPTION_FIELDS)}; provider-specific options go inside "options": {{...}}'
    )


def _id(value: Any, errors: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors.append(f"'id' must be text or a whole number, not {value!r}")
        return None
    text = str(value).strip()
    if not text:
        errors.append("'id' is empty; leave it out or give each job its own")
        return None
    return text


def _text(row: dict[str, Any], key: str, errors: list[str]) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(f"{key!r} must be text, not {json.dumps(value)}")
        return None
    return value


def _images(row: dict[str, Any], base: Path, errors: list[str]) -> tuple[Path, ...]:
    one, many = row.get("image"), row.get("images")
    if one is not None and many is not None:
        errors.append("give 'image' or 'images', not both")
        return ()
    if one is None and many is None:
        errors.append('no image: give "image": "PATH" or "images": ["PATH", ...]')
        return ()
    if one is not None:
        if not isinstance(one, str) or not one.strip():
            errors.append(f"'image' must be a path, not {json.dumps(one)}")
            return ()
        return (resolve_path(one, base),)
    if (
        not isinstance(many, list)
        or not many
        or not all(isinstance(p, str) and p.strip() for p in many)
    ):
        errors.append(f"'images' must be a non-empty list of paths, not {json.dumps(many)}")
        return ()
    return tuple(resolve_path(p, base) for p in many)


def resolve_path(text: str, base: Path) -> Path:
    """A path from the JOBS file: ``~`` expanded, relative ones taken from the file's folder."""
    path = Path(text.strip()).expanduser()
    return path if path.is_absolute() else base / path


def _options(
    row: dict[str, Any], from_csv: bool, errors: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    options: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name in OPTION_FIELDS:
        if name in row:
            options[name] = row[name]
    inner = row.get("options")
    if inner is not None:
        if not isinstance(inner, dict):
            errors.append(
                f"'options' must be an object such as {{\"watermark\": false}}, not "
                f"{json.dumps(inner)}"
            )
        else:
            for name, value in inner.items():
                if name in OPTION_FIELDS:
                    if name in options:
                        errors.append(f"option {name!r} is given twice (also inside 'options')")
                        continue
                    options[name] = value
                elif from_csv and isinstance(value, str):
                    extra[name] = coerce_extra(value)
                else:
                    extra[name] = value
    for name, value in list(options.items()):
        if from_csv and isinstance(value, str):
            value = coerce_option(name, value, errors)
            if value is None:
                del options[name]
                continue
            options[name] = value
        problem = check_option_type(name, value)
        if problem:
            errors.append(problem)
    return options, extra


def coerce_option(name: str, raw: str, errors: list[str]) -> Any:
    """A request option from text (a CSV cell, ``--option``): whole numbers where numeric."""
    raw = raw.strip()
    if name in INT_OPTIONS:
        try:
            return int(raw)
        except ValueError:
            errors.append(f"{name!r} must be a whole number, not {raw!r}")
            return None
    return raw


def coerce_extra(raw: str) -> Any:
    """A provider option from text, as ``imgedit edit --option KEY=VALUE`` reads it: JSON if
    it parses (``false``, ``3``, ``"x"``), else the text itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def check_option_type(name: str, value: Any) -> str | None:
    if name in INT_OPTIONS:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name!r} must be a whole number, not {json.dumps(value)}"
    elif not isinstance(value, str):
        return f"{name!r} must be text, not {json.dumps(value)}"
    return None

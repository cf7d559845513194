"""Every job checked and its outputs named before the first request: nothing is paid for until
the whole batch is known to be sendable and savable."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ..errors import UserError
from ..sentinel import NOT_GIVEN
from .jobs import Job, JobsError, Problem
from .outputs import (
    DEFAULT_TEMPLATE,
    TemplateError,
    check_template,
    display_path,
    expand,
    partial_path,
    suffix_hint,
)

MAX_NAME_BYTES = 255  # a file name's limit on common filesystems

if TYPE_CHECKING:
    from ..client import PreparedEdit
    from ..registry import Resolved


class Preparer(Protocol):
    """What planning needs of a client (sync or async: ``prepare`` is sync on both)."""

    @property
    def offline(self) -> bool: ...

    def resolve(self, model: str | None = None, provider: str | None = None) -> Resolved: ...

    def prepare(self, image: Any, prompt: str, **kwargs: Any) -> PreparedEdit: ...


@attrs.frozen
class Defaults:
    """What the command line gives every job that does not say otherwise."""

    prompt: str | None = None
    model: str | None = None
    provider: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    output: str = DEFAULT_TEMPLATE
    out_dir: Path | None = None


@attrs.frozen
class PlannedJob:
    """A job with everything decided: what is sent, where it is saved, and who it is.

    The built request is not kept (it holds the images' bytes: a batch of big photos would
    hold them all); :meth:`prepare` builds it again just before sending.
    """

    job: Job
    prompt: str
    model: str | None
    provider: str | None
    options: Mapping[str, Any]
    extra: Mapping[str, Any]
    outputs: tuple[Path, ...]
    fingerprint: str
    model_name: str
    provider_name: str

    @property
    def label(self) -> str:
        return self.job.label

    def prepare(self, client: Preparer, *, require_key: bool = True) -> PreparedEdit:
        return client.prepare(
            list(self.job.images),
            self.prompt,
            model=self.model,
            provider=self.provider,
            mask=self.job.mask if self.job.mask is not None else NOT_GIVEN,
            extra=self.extra,
            require_key=require_key,
            **self.options,
        )


def plan_jobs(
    client: Preparer,
    jobs: Sequence[Job],
    defaults: Defaults,
    *,
    source: str,
    jobs_dir: Path,
    require_key: bool = True,
    earlier: Sequence[Problem] = (),
) -> list[PlannedJob]:
    """Check every job as ``imgedit edit`` would, name its outputs, and find clashes between
    jobs; raise :class:`JobsError` with every problem found, ``earlier`` ones (the lines that
    could not be read) included."""
    problems: list[Problem] = list(earlier)
    planned: list[PlannedJob] = []
    for job in jobs:
        try:
            planned.append(_plan_one(client, job, defaults, jobs_dir, require_key))
        except UserError as exc:
            problems.append(Problem(job.line, str(exc)))
        except TemplateError as exc:
            problems.append(Problem(job.line, str(exc)))
    problems.extend(_clashes(planned))
    if problems:
        raise JobsError(source, problems)
    return planned


def _plan_one(
    client: Preparer, job: Job, defaults: Defaults, jobs_dir: Path, require_key: bool
) -> PlannedJob:
    from ..media import extension_for
    from ..output_names import check_suffix, expected_media_type, output_format_for

    prompt = job.prompt if job.prompt is not None else defaults.prompt
    if prompt is None:
        raise UserError('no prompt: give the job a "prompt", or pass --prompt for every job')
    model = job.model or defaults.model
    provider = job.provider or defaults.provider
    options = {**defaults.options, **job.options}
    extra = {**defaults.extra, **job.extra}
    if job.output is not None:
        template, base = job.output, defaults.out_dir or jobs_dir
    else:
        template, base = defaults.output, defaults.out_dir or Path.cwd()
    check_template(template)
    resolved = client.resolve(model, provider)
    caps = resolved.spec.capabilities
    hint = suffix_hint(template)
    fmt = output_format_for(
        options.get("output_format"),
        hint,
        caps.output_formats,
        caps.default_output_format,
        resolved.model,
        option="output_format=",
    )
    options.pop("output_format", None)
    if fmt is not None:
        options["output_format"] = fmt
    planned = PlannedJob(
        job=job,
        prompt=prompt,
        model=model,
        provider=provider,
        options=options,
        extra=extra,
        outputs=(),
        fingerprint="",
        model_name=resolved.model,
        provider_name=resolved.provider.name,
    )
    prepared = planned.prepare(client, require_key=require_key)
    check_suffix(prepared, hint)
    ext = extension_for(expected_media_type(prepared))
    outputs = expand(
        template,
        base=base,
        job_id=job.id,
        line=job.line,
        stem=job.images[0].stem,
        ext=ext,
        count=prepared.request.expected_count(),
    )
    outputs = [Path(os.path.abspath(p)) for p in outputs]
    return attrs.evolve(
        planned,
        outputs=tuple(outputs),
        fingerprint=fingerprint(prepared, outputs, offline=client.offline),
        model_name=prepared.resolved.model,
        provider_name=prepared.resolved.provider.name,
    )


def fingerprint(prepared: PreparedEdit, outputs: Sequence[Path], *, offline: bool) -> str:
    """Who a job is: everything that makes its result, and nothing that does not.

    The inputs (by path, size and modification time), prompt, model, provider, endpoint,
    options and output paths. A changed prompt or a retouched input is a new job; the line
    it sits on is not part of it, so reordering the file changes nothing.
    """
    from ..sentinel import is_given

    request = prepared.request
    mask = request.mask
    data = {
        "images": [_file_id(i.path) for i in request.images],
        "mask": _file_id(mask.path) if is_given(mask) else None,
        "prompt": request.prompt,
        "model": prepared.resolved.model,
        "provider": prepared.resolved.provider.name,
        "endpoint": str(prepared.http_request.url.copy_with(query=None)),
        "offline": offline,
        "options": dict(request.given_options()),
        "extra": dict(request.extra),
        "outputs": [str(p) for p in outputs],
    }
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _file_id(path: Path | None) -> list[Any]:
    if path is None:
        return [None]
    try:
        stat = path.stat()
    except OSError:
        return [os.path.abspath(path), None, None]
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _clashes(planned: list[PlannedJob]) -> list[Problem]:
    """Two jobs writing one file, a job overwriting an input, a folder that cannot take files."""
    from ..output_names import check_folder

    problems: list[Problem] = []
    inputs: dict[Path, int] = {}
    for p in planned:
        for image in (*p.job.images, *([p.job.mask] if p.job.mask else [])):
            inputs.setdefault(Path(os.path.realpath(image)), p.job.line)
    writers: dict[Path, int] = {}
    for p in planned:
        for out in p.outputs:
            real = Path(os.path.realpath(out))
            if real in inputs:
                where = "its own" if inputs[real] == p.job.line else f"line {inputs[real]}'s"
                problems.append(
                    Problem(
                        p.job.line,
                        f"the output {display_path(out)!r} is {where} input image; write the "
                        f"results elsewhere (--out-dir DIR, or an --output name such as "
                        f"'{{stem}}-edited.{{ext}}')",
                    )
                )
            elif real in writers:
                problems.append(
                    Problem(
                        p.job.line,
                        f"writes {display_path(out)!r}, as line {writers[real]} does; give each "
                        f'job its own output (put {{id}} or {{line}} in --output, or set "output")',
                    )
                )
            else:
                writers[real] = p.job.line
    folders: dict[Path, int] = {}
    for p in planned:
        for out in p.outputs:
            folders.setdefault(out.parent, p.job.line)
            if len(partial_path(out).name.encode()) > MAX_NAME_BYTES:
                problems.append(
                    Problem(
                        p.job.line,
                        f"the output name {out.name!r} is too long to be written safely (its "
                        f"temporary file would pass the {MAX_NAME_BYTES}-byte limit); "
                        f"shorten it",
                    )
                )
    for folder, line in sorted(folders.items()):
        try:
            check_folder(folder)
        except UserError as exc:
            problems.append(Problem(line, str(exc).replace("choose another -o", "choose another")))
    return problems

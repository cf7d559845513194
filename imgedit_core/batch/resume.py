"""What a rerun finds: jobs already done, a crash to finish, files that are not the batch's.

Decided from the journal and the files on disk before anything is sent, so a rerun never
pays for a job whose result is already saved, and never replaces a file it did not write
unless ``--force`` says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import attrs

from ..errors import OutputError
from ..files import exists_message
from .journal import JobRecord, JournalState, OutputRecord
from .outputs import display_path, partial_path
from .plan import PlannedJob


@attrs.frozen
class Skipped:
    """A job finished in an earlier run (or one whose recorded outputs are gone or changed)."""

    planned: PlannedJob
    record: JobRecord
    detail: str
    problem: str | None = None
    """Set when an output recorded as done has since vanished or changed: the job is not run
    again (it was paid for), but the person should know."""


@attrs.define
class ResumePlan:
    to_run: list[PlannedJob] = attrs.field(factory=list)
    skipped: list[Skipped] = attrs.field(factory=list)
    recover: list[tuple[Path, Path]] = attrs.field(factory=list)
    """(partial, target): a crash came after the job was recorded done and before its file
    was put in place; the partial holds the recorded bytes."""
    stale: list[Path] = attrs.field(factory=list)
    """Partials that no record vouches for: deleted before anything else."""
    conflicts: list[tuple[PlannedJob, Path]] = attrs.field(factory=list)
    replace: set[Path] = attrs.field(factory=set)
    """Existing outputs a job to run may replace: ones this batch wrote, or any with --force."""
    superseded: list[tuple[PlannedJob, Path]] = attrs.field(factory=list)
    """Outputs this batch wrote for a job that has changed since (a reworded prompt, say):
    the new result replaces them, and the run says so."""
    in_flight: list[PlannedJob] = attrs.field(factory=list)
    """Jobs sent in an earlier run that never got an answer recorded: maybe billed."""
    failed_before: list[PlannedJob] = attrs.field(factory=list)

    def check_conflicts(self, journal: Path) -> None:
        """Refuse, before paying, to write over files this batch did not write."""
        if not self.conflicts:
            return
        paths = [display_path(path) for _, path in self.conflicts]
        where = display_path(journal)
        if len(paths) == 1:
            raise OutputError(
                f"{exists_message(Path(paths[0]))[:-1]} (the journal {where!r} has no "
                f"record of writing it)."
            )
        shown = ", ".join(repr(p) for p in paths[:5])
        more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
        raise OutputError(
            f"{len(paths)} outputs already exist and the journal {where!r} has no "
            f"record of writing them: {shown}{more}. Pass --force to replace them, or write "
            f"the results elsewhere (--out-dir, --output)."
        )


def reconcile(
    planned: Sequence[PlannedJob],
    state: JournalState,
    *,
    redo_missing: bool = False,
    force: bool = False,
) -> ResumePlan:
    """Sort the jobs into skip, recover and run, reading (never writing) the files."""
    plan = ResumePlan()
    for job in planned:
        record = state.jobs.get(job.fingerprint, JobRecord())
        if record.done is not None:
            skipped = _check_done(job, record, plan, redo_missing)
            if skipped is not None:
                plan.skipped.append(skipped)
                continue
        elif record.in_flight:
            plan.in_flight.append(job)
        elif record.failed is not None:
            plan.failed_before.append(job)
        _check_run(job, state, plan, force)
    return plan


def _check_done(
    job: PlannedJob, record: JobRecord, plan: ResumePlan, redo_missing: bool
) -> Skipped | None:
    missing: list[Path] = []
    changed: list[Path] = []
    recover: list[tuple[Path, Path]] = []
    for out in record.outputs:
        status = output_status(out)
        if status == "changed":
            changed.append(out.path)
        elif status == "recover":
            recover.append((partial_path(out.path), out.path))
        elif status == "missing":
            missing.append(out.path)
    if changed:
        names = ", ".join(repr(display_path(p)) for p in changed)
        return Skipped(
            job,
            record,
            "done earlier",
            f"{names} changed since this batch wrote it; it is kept. To redo the job, move "
            f"the file away and rerun with --redo-missing.",
        )
    if missing and redo_missing:
        return None  # run again; the planner's run checks follow
    plan.recover.extend(recover)
    _stale(job, plan, keep={partial for partial, _ in recover})
    if missing:
        names = ", ".join(repr(display_path(p)) for p in missing)
        return Skipped(
            job,
            record,
            "done earlier",
            f"{names} was written by this batch and has since been deleted; rerun with "
            f"--redo-missing to edit it again (it will be billed again).",
        )
    return Skipped(job, record, "recovered after an interruption" if recover else "done earlier")


def _check_run(job: PlannedJob, state: JournalState, plan: ResumePlan, force: bool) -> None:
    plan.to_run.append(job)
    _stale(job, plan, keep=set())
    for path in job.outputs:
        if not path.exists():
            continue
        ours = state.written.get(path)
        if ours is not None and file_sha256(path) == ours:
            plan.replace.add(path)
            plan.superseded.append((job, path))
        elif force:
            plan.replace.add(path)
        else:
            plan.conflicts.append((job, path))


def _stale(job: PlannedJob, plan: ResumePlan, keep: set[Path]) -> None:
    for path in job.outputs:
        partial = partial_path(path)
        if partial not in keep and os.path.lexists(partial):
            plan.stale.append(partial)


def output_status(out: OutputRecord) -> str:
    """``ok``, ``changed``, ``recover`` (a partial holds the recorded bytes) or ``missing``."""
    try:
        stat = out.path.stat()
    except FileNotFoundError:
        partial = partial_path(out.path)
        if partial.is_file() and file_sha256(partial) == out.sha256:
            return "recover"
        return "missing"
    except OSError:
        return "changed"
    if stat.st_size != out.bytes:
        return "changed"
    if out.mtime_ns is not None and stat.st_mtime_ns == out.mtime_ns:
        return "ok"  # the same size and the very nanosecond the partial was written
    return "ok" if file_sha256(out.path) == out.sha256 else "changed"


def file_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def apply(plan: ResumePlan) -> None:
    """Finish the moves a crash interrupted and delete stale partials (under the lock)."""
    from .commit import claim, sync_folder

    for partial, target in plan.recover:
        claim(partial, target, overwrite=False)
        sync_folder(target.parent)
    for partial in plan.stale:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()

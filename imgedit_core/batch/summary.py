"""What a batch tells its reader: one JSON line per job, and the closing summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .outputs import display_path
from .resume import Skipped
from .runner import STOPPING_ERRORS, Outcome, RunReport, error_dict

MAX_LISTED = 20


def skipped_outcome(skipped: Skipped) -> Outcome:
    """A job finished in an earlier run, told the way a finished one is."""
    done = skipped.record.done or {}
    detail = skipped.detail
    if skipped.problem:
        detail += f"; {skipped.problem}"
    return Outcome(
        skipped.planned,
        "skipped",
        outputs=skipped.record.outputs,
        attempts=done.get("attempts"),
        model=done.get("model"),
        provider=done.get("provider"),
        detail=detail,
    )


def json_line(outcome: Outcome) -> dict[str, Any]:
    """The ``--json`` record of one job, as documented in docs/batch.md."""
    job = outcome.planned.job
    return {
        "id": job.id,
        "line": job.line,
        "status": outcome.status,
        "outputs": [display_path(o.path) for o in outcome.outputs],
        "sha256": [o.sha256 for o in outcome.outputs],
        "error": error_dict(outcome.error) if outcome.error is not None else None,
        "attempts": outcome.attempts,
        "seconds": round(outcome.seconds, 3) if outcome.seconds is not None else None,
        "model": outcome.model,
        "provider": outcome.provider,
        "detail": outcome.detail if outcome.status == "skipped" else None,
    }


def duration(seconds: float) -> str:
    whole = int(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def counts_line(report: RunReport, skipped: int, total: int, elapsed: float) -> str:
    ok = sum(1 for o in report.outcomes if o.status == "ok")
    failed = sum(1 for o in report.outcomes if o.status == "failed")
    jobs = f"{total} job{'s' if total != 1 else ''}"
    line = f"{ok} ok, {failed} failed, {skipped} skipped ({jobs}) in {duration(elapsed)}"
    stopped = [
        f"{count} {what}"
        for count, what in (
            (len(report.cancelled), "cancelled"),
            (report.not_started, "not started"),
        )
        if count
    ]
    if stopped:
        line += "; " + ", ".join(stopped)
    return line


def failure_lines(report: RunReport) -> list[str]:
    failed = [o for o in report.outcomes if o.status == "failed"]
    lines = [f"failed: {o.planned.label}: {o.detail}" for o in failed[:MAX_LISTED]]
    if len(failed) > MAX_LISTED:
        lines.append(f"... and {len(failed) - MAX_LISTED} more failed (--json lists every one)")
    return lines


def problem_lines(skipped: Sequence[Skipped]) -> list[str]:
    """Jobs done earlier whose files have since vanished or changed: kept as they are."""
    flagged = [s for s in skipped if s.problem]
    lines = [f"note: {s.planned.label}: {s.problem}" for s in flagged[:MAX_LISTED]]
    if len(flagged) > MAX_LISTED:
        lines.append(f"... and {len(flagged) - MAX_LISTED} more jobs like these")
    return lines


def closing_lines(report: RunReport, done_total: int, total: int) -> list[str]:
    """What to do next: continue after an interruption, retry failures, fix the key."""
    failed = sum(1 for o in report.outcomes if o.status == "failed")
    if report.interrupted:
        lines = [
            f"interrupted ({report.interrupted}): {done_total} of {total} jobs are done; "
            f"rerun the same command to continue (finished jobs are skipped)."
        ]
        if report.cancelled:
            labels = ", ".join(j.label for j in report.cancelled[:5])
            more = "..." if len(report.cancelled) > 5 else ""
            lines.append(
                f"{len(report.cancelled)} job(s) in flight were cancelled ({labels}{more}); "
                f"they may still run, and be billed, upstream, and are sent again on the rerun."
            )
        return lines
    if report.stopped_by is not None:
        error = report.stopped_by
        status = getattr(error, "status", None)
        why = (
            f"the key was refused (HTTP {status})"
            if isinstance(error, STOPPING_ERRORS)
            else str(error)
        )
        fix = "fix the key" if isinstance(error, STOPPING_ERRORS) else "fix the cause"
        return [
            f"stopped starting jobs: {why}; {report.not_started} job(s) not started. "
            f"{fix.capitalize()} and rerun the same command (finished jobs are skipped)."
        ]
    if failed:
        return [
            f"rerun the same command to retry the {failed} failed job(s); finished jobs are "
            f"skipped."
        ]
    return []


def label_list(labels: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")

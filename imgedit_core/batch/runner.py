"""Running the jobs: a fixed pool of workers on one event loop, sharing one ``AsyncClient``.

N workers pull jobs one at a time, so at most N edits are in flight and nothing fans out
unbounded. A job's failure is recorded and the batch goes on; a refused key stops new jobs
from starting (they would all fail the same way). SIGINT/SIGTERM stop new jobs, cancel the
ones in flight, and leave the journal and the folders as a rerun expects them.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ..errors import (
    AuthenticationError,
    ImgeditError,
    PermissionDeniedError,
)
from .commit import commit
from .journal import Journal, OutputRecord
from .outputs import display_path
from .plan import PlannedJob, Preparer

if TYPE_CHECKING:
    from ..client import PreparedEdit
    from ..result import EditResult

log = logging.getLogger("imgedit.batch")

#: The job a log line is about (retries are logged deep in the transport, without it).
CURRENT_JOB: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "imgedit_batch_job", default=None
)
STOPPING_ERRORS = (AuthenticationError, PermissionDeniedError)


class Sender(Preparer, Protocol):
    async def send(
        self, prepared: PreparedEdit, *, max_retries: Any = None, timeout: Any = None
    ) -> EditResult: ...


class Progress(Protocol):
    def started(self, job: str) -> None: ...

    def finished(
        self, job: str, status: str, detail: str, seconds: float | None = None
    ) -> None: ...


@attrs.define
class Outcome:
    """How one job ended in this run."""

    planned: PlannedJob
    status: str
    """``ok``, ``failed`` or ``skipped``."""
    outputs: list[OutputRecord] = attrs.field(factory=list)
    error: BaseException | None = None
    attempts: int | None = None
    seconds: float | None = None
    model: str | None = None
    provider: str | None = None
    detail: str = ""


@attrs.define
class RunReport:
    outcomes: list[Outcome] = attrs.field(factory=list)
    interrupted: str | None = None
    """The signal that stopped the run (SIGINT, SIGTERM), if one did."""
    stopped_by: ImgeditError | None = None
    """The error that stopped new jobs from starting (a refused key, an unwritable journal)."""
    cancelled: list[PlannedJob] = attrs.field(factory=list)
    """Jobs in flight when the run was interrupted: sent, maybe billed, not saved."""
    not_started: int = 0


class Runner:
    def __init__(
        self,
        client: Sender,
        journal: Journal,
        *,
        concurrency: int,
        progress: Progress,
        on_outcome: Callable[[Outcome], None],
        replace: set[Path] | frozenset[Path] = frozenset(),
        max_retries: int | None = None,
        timeout: Any = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.concurrency = concurrency
        self.progress = progress
        self.on_outcome = on_outcome
        self.replace = replace
        self.max_retries = max_retries
        self.timeout = timeout
        self.report = RunReport()
        self._stop = False
        self._started = 0
        self._in_flight: dict[str, PlannedJob] = {}
        self._workers: list[asyncio.Task[None]] = []

    async def run(self, jobs: Sequence[PlannedJob]) -> RunReport:
        queue = iter(jobs)
        loop = asyncio.get_running_loop()
        self._workers = [
            asyncio.create_task(self._worker(queue), name=f"imgedit-batch-worker-{i}")
            for i in range(min(self.concurrency, len(jobs)))
        ]
        installed = self._catch_signals(loop)
        try:
            results = await asyncio.gather(*self._workers, return_exceptions=True)
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
        self.report.cancelled = list(self._in_flight.values())
        self.report.not_started = len(jobs) - self._started
        return self.report

    def _catch_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        installed: list[int] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self.interrupt, signal.Signals(signum).name)
            except (NotImplementedError, RuntimeError, ValueError):  # Windows, not main thread
                continue
            installed.append(signum)
        return installed

    def interrupt(self, why: str = "SIGINT") -> None:
        """Stop starting jobs and cancel the ones in flight (their journal says ``sent``)."""
        if self.report.interrupted is None:
            self.report.interrupted = why
        self._stop = True
        for task in self._workers:
            task.cancel()

    async def _worker(self, queue: Iterator[PlannedJob]) -> None:
        try:
            while not self._stop:
                job = next(queue, None)
                if job is None:
                    return
                self._started += 1
                await self._run_one(job)
        except Exception:  # stdout closed, say: no worker starts another job
            self._stop = True
            raise

    async def _run_one(self, job: PlannedJob) -> None:
        token = CURRENT_JOB.set(job.label)
        self.progress.started(job.label)
        self._in_flight[job.fingerprint] = job
        started = time.monotonic()
        try:
            self._record("sent", job)
            prepared = job.prepare(self.client)
            result = await self.client.send(
                prepared, max_retries=self.max_retries, timeout=self.timeout
            )
            datas = [await image.aload() for image in result.images]
            attempts = result.attempts
            del self._in_flight[job.fingerprint]  # answered: no longer at risk of a lost bill
            outputs = self._save(job, datas, result, started, attempts)
        except asyncio.CancelledError:
            raise
        except ImgeditError as exc:
            self._in_flight.pop(job.fingerprint, None)
            self._failed(job, exc, started)
            if isinstance(exc, STOPPING_ERRORS) and self.report.stopped_by is None:
                self.report.stopped_by = exc
                self._stop = True
        except Exception as exc:  # a bug: this job fails, the batch goes on, the end says so
            self._in_flight.pop(job.fingerprint, None)
            log.debug("job %s failed with an internal error", job.label, exc_info=True)
            self._failed(job, exc, started)
        else:
            outcome = Outcome(
                job,
                "ok",
                outputs=outputs,
                attempts=attempts,
                seconds=time.monotonic() - started,
                model=result.model,
                provider=result.provider,
                detail=", ".join(display_path(o.path) for o in outputs),
            )
            self._finish(outcome)
        finally:
            CURRENT_JOB.reset(token)

    def _save(
        self,
        job: PlannedJob,
        datas: list[bytes],
        result: EditResult,
        started: float,
        attempts: int | None,
    ) -> list[OutputRecord]:
        """Synchronous from the first partial to the last move: a cancellation cannot land in
        the middle; only a kill can, and the rerun mends that."""
        if len(datas) > len(job.outputs):
            log.warning(
                "%s: the answer holds %d images, %d were asked for; the extra ones are not saved",
                job.label,
                len(datas),
                len(job.outputs),
            )

        def record_done(outputs: list[OutputRecord]) -> None:
            self._record(
                "done",
                job,
                outputs=[o.to_dict() for o in outputs],
                model=result.model,
                provider=result.provider,
                seconds=round(time.monotonic() - started, 3),
                attempts=attempts,
            )

        return commit(
            job.outputs[: len(datas)], datas[: len(job.outputs)], record_done, replace=self.replace
        )

    def _failed(self, job: PlannedJob, exc: BaseException, started: float) -> None:
        seconds = time.monotonic() - started
        attempts = getattr(exc, "attempts", None) if isinstance(exc, ImgeditError) else None
        try:
            self._record(
                "failed", job, error=error_dict(exc), attempts=attempts, seconds=round(seconds, 3)
            )
        except ImgeditError as journal_error:  # the journal itself failed: stop the batch
            if self.report.stopped_by is None:
                self.report.stopped_by = journal_error
            self._stop = True
        outcome = Outcome(
            job,
            "failed",
            error=exc,
            attempts=attempts,
            seconds=seconds,
            model=job.model_name,
            provider=job.provider_name,
            detail=error_text(exc),
        )
        self._finish(outcome)

    def _finish(self, outcome: Outcome) -> None:
        self.report.outcomes.append(outcome)
        self.progress.finished(
            outcome.planned.label, outcome.status, outcome.detail, outcome.seconds
        )
        self.on_outcome(outcome)

    def _record(self, event: str, job: PlannedJob, **fields: Any) -> None:
        try:
            self.journal.append(
                event, job=job.fingerprint, line=job.job.line, id=job.job.id, **fields
            )
        except OSError as exc:
            from .journal import JournalError

            raise JournalError(
                f"cannot write the journal {str(self.journal.path)!r}: {exc.strerror}; the "
                f"batch stopped so that no edit goes unrecorded."
            ) from None


def error_dict(exc: BaseException) -> dict[str, Any]:
    """A failure for ``--json`` and the journal: its class, message, HTTP status and code."""
    return {
        "type": type(exc).__name__,
        "message": error_text(exc),
        "status": getattr(exc, "status", None),
        "code": getattr(exc, "code", None),
    }


def error_text(exc: BaseException) -> str:
    import os

    from ..redact import known_secrets, redact

    text = (
        str(exc)
        if isinstance(exc, ImgeditError)
        else f"internal error: {type(exc).__name__}: {exc}"
    )
    return redact(text, known_secrets(os.environ))

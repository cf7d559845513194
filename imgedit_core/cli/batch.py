"""``imgedit batch JOBS``: many edits, bounded concurrency, a journal that makes reruns resume."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .guard import EXIT_INTERRUPTED, guarded, say
from .logs import setup_logging

if TYPE_CHECKING:
    from ..async_client import AsyncClient
    from ..batch.journal import Journal
    from ..batch.plan import Defaults, PlannedJob
    from ..batch.resume import ResumePlan
    from ..batch.runner import Outcome, RunReport

log = logging.getLogger("imgedit")

EXIT_SOME_FAILED = 1
MAX_CONCURRENCY = 64


@click.command("batch", short_help="Run many edits from a JSONL or CSV file, resumably.")
@click.argument("jobs_file", metavar="JOBS", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    help="How JOBS is written (default: from its suffix, .jsonl/.ndjson or .csv).",
)
@click.option("-p", "--prompt", help="The instruction for every job that does not give one.")
@click.option("-m", "--model", help="Model for jobs that name none (else the usual default).")
@click.option("--provider", help="Provider for jobs that name none.")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option for every job that does not set it: size=1024x1024, quality=high, n=2, "
    "or a provider option such as watermark=false. Repeatable.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    help='Folder for the outputs (and the journal). Jobs\' relative "output" names are '
    "taken from here too.",
)
@click.option(
    "-o",
    "--output",
    "template",
    metavar="TEMPLATE",
    help='Output name for jobs without "output" (default {stem}.{ext}). Placeholders: '
    "{id}, {line}, {stem} (first image's), {index} (with n above 1), {ext}.",
)
@click.option(
    "-j",
    "--concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    default=4,
    show_default=True,
    help=f"Edits in flight at once (1-{MAX_CONCURRENCY}).",
)
@click.option(
    "--rpm",
    "rpm",
    multiple=True,
    metavar="N|PROVIDER=N",
    help="Requests a minute at most, for every provider (N) or one (PROVIDER=N); retries "
    "count. Repeatable. Config: [providers.NAME] rpm.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    help="Retries per job after a connection failure, 408, 409, 429 or 5xx (default 2). A "
    "retried edit may be billed again.",
)
@click.option(
    "--timeout",
    metavar="SECONDS|PHASE=SECONDS,...",
    help="How long to wait for each edit, as `imgedit edit --timeout` takes it.",
)
@click.option("--api-key", help="API key for this run (visible in the process list; prefer env).")
@click.option(
    "--offline",
    is_flag=True,
    default=None,
    help="The built-in emulator answers; nothing is sent over the network.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace existing output files this batch did not write.",
)
@click.option(
    "--redo-missing",
    is_flag=True,
    help="Edit again the jobs done earlier whose outputs have since been deleted.",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False),
    help="Journal file (default: .imgedit-batch.<JOBS name>.jsonl beside the outputs).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every job and plan every output; print what would be sent or skipped; send "
    "nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per job on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
def batch_command(
    jobs_file: str,
    fmt: str | None,
    prompt: str | None,
    model: str | None,
    provider: str | None,
    options: tuple[str, ...],
    out_dir: str | None,
    template: str | None,
    concurrency: int,
    rpm: tuple[str, ...],
    max_retries: int | None,
    timeout: str | None,
    api_key: str | None,
    offline: bool | None,
    force: bool,
    redo_missing: bool,
    journal_path: str | None,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
    verbose: int,
) -> None:
    """Run every edit in JOBS (JSONL or CSV, one edit a line), resumably.

    \b
    Every job is checked and every output named before anything is sent. A journal beside
    the outputs records each finished job: rerunning the same command after Ctrl-C or a
    crash skips finished jobs and redoes the rest. Prints each written path (or one JSON
    line per job with --json). Exit 0: all done; 1: some jobs failed; 2: a mistake in JOBS
    or the flags (nothing sent); 3: the key was refused; 130: interrupted.
    See docs/batch.md.
    """
    setup_logging(verbose, quiet)
    if api_key:
        from ..redact import remember

        remember(api_key)
    with guarded():
        defaults = _defaults(prompt, model, provider, options, out_dir, template)
        limits = _rate_limits(rpm)
        code = _run(
            Path(jobs_file),
            fmt,
            defaults,
            concurrency=concurrency,
            rate_limits=limits,
            max_retries=max_retries,
            timeout=timeout,
            api_key=api_key,
            offline=offline,
            force=force,
            redo_missing=redo_missing,
            journal_path=Path(journal_path).absolute() if journal_path else None,
            dry_run=dry_run,
            as_json=as_json,
            quiet=quiet,
        )
    sys.exit(code)


# -- flags -------------------------------------------------------------------------------------


def _defaults(
    prompt: str | None,
    model: str | None,
    provider: str | None,
    options: tuple[str, ...],
    out_dir: str | None,
    template: str | None,
) -> Defaults:
    from ..batch.jobs import check_option_type, coerce_extra, coerce_option
    from ..batch.outputs import DEFAULT_TEMPLATE, TemplateError, check_template
    from ..batch.plan import Defaults
    from ..request import OPTION_FIELDS

    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for item in options:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        if key in OPTION_FIELDS:
            errors: list[str] = []
            value = coerce_option(key, raw, errors)
            problem = errors[0] if errors else check_option_type(key, value)
            if problem:
                raise click.BadParameter(problem, param_hint="--option")
            known[key] = value
        else:
            extra[key] = coerce_extra(raw)
    if prompt is not None and not prompt.strip():
        raise click.BadParameter("the prompt is empty: say what to change", param_hint="--prompt")
    chosen = template if template is not None else DEFAULT_TEMPLATE
    try:
        check_template(chosen)
    except TemplateError as exc:
        raise click.BadParameter(str(exc), param_hint="--output") from None
    return Defaults(
        prompt=prompt,
        model=model,
        provider=provider,
        options=known,
        extra=extra,
        output=chosen,
        out_dir=Path(out_dir).absolute() if out_dir else None,
    )


def _rate_limits(values: tuple[str, ...]) -> dict[str, float] | None:
    """``--rpm 30`` for every provider (``"*"``), ``--rpm NAME=10`` for one; both may be given."""
    limits: dict[str, float] = {}
    for item in values:
        name, sep, number = item.rpartition("=")
        try:
            value = float(number)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise click.BadParameter(
                f"{item!r}: give requests a minute above 0, as N or PROVIDER=N (e.g. 60, "
                f"cometapi-gpt-image=30)",
                param_hint="--rpm",
            )
        limits[name.strip() if sep else "*"] = value
    return limits or None


def _check_rate_limit_names(client: AsyncClient, limits: dict[str, float] | None) -> None:
    """Check ``--rpm`` provider names against the loaded providers (before anything runs)."""
    import difflib

    from ..errors import UserError

    known = sorted(p.name for p in client.registry.providers)
    for name in limits or {}:
        if name != "*" and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UserError(
                f"--rpm {name}=...: no provider is called {name!r}.{hint} Loaded providers: "
                f"{', '.join(known) or 'none'}."
            )


# -- the run -----------------------------------------------------------------------------------


def _run(
    jobs_file: Path,
    fmt: str | None,
    defaults: Defaults,
    *,
    concurrency: int,
    rate_limits: dict[str, float] | None,
    max_retries: int | None,
    timeout: str | None,
    api_key: str | None,
    offline: bool | None,
    force: bool,
    redo_missing: bool,
    journal_path: Path | None,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
) -> int:
    from ..batch.jobs import parse_jobs
    from ..batch.journal import Journal, default_journal_path, read_journal
    from ..batch.plan import plan_jobs
    from ..batch.resume import reconcile
    from .context import make_async_client

    started = time.monotonic()
    source = jobs_file
    jobs, unreadable = parse_jobs(jobs_file, fmt)  # as typed, so messages name it so
    jobs_file = jobs_file.absolute()
    client = make_async_client(
        timeout=timeout,
        max_retries=max_retries,
        api_key=api_key,
        offline=offline,
        rate_limits=rate_limits,
    )
    _check_rate_limit_names(client, rate_limits)
    planned = plan_jobs(
        client,
        jobs,
        defaults,
        source=str(source),
        jobs_dir=jobs_file.parent,
        require_key=not dry_run,
        earlier=unreadable,
    )
    outputs = [path for p in planned for path in p.outputs]
    journal_file = journal_path or default_journal_path(jobs_file, outputs, defaults.out_dir)
    journal: Journal | None = None
    try:
        if not dry_run and journal_file.exists():
            journal = Journal.open(journal_file)  # locked before anything is decided
        state = journal.state() if journal is not None else read_journal(journal_file)
        plan = reconcile(planned, state, redo_missing=redo_missing, force=force)
        plan.check_conflicts(journal_file)
        if dry_run:
            _print_dry_run(planned, plan, client, journal_file, as_json)
            return 0
        if journal is None:
            journal = Journal.open(journal_file)
        return _execute(
            client,
            journal,
            planned,
            plan,
            concurrency=concurrency,
            as_json=as_json,
            quiet=quiet,
            started=started,
        )
    finally:
        if journal is not None:
            journal.close()


def _execute(
    client: AsyncClient,
    journal: Journal,
    planned: list[PlannedJob],
    plan: ResumePlan,
    *,
    concurrency: int,
    as_json: bool,
    quiet: bool,
    started: float,
) -> int:
    import asyncio

    from ..batch.resume import apply
    from ..batch.runner import Runner
    from ..batch.summary import skipped_outcome
    from .edit import OFFLINE_NOTICE
    from .live import BatchProgress, live_enabled

    apply(plan)  # finish interrupted moves, delete stale partials: before anything else
    journal.append("run", pid=os.getpid(), jobs=len(planned), to_run=len(plan.to_run))
    _notes(plan)
    if client.offline and plan.to_run:
        log.warning(OFFLINE_NOTICE)
    emit = _emitter(as_json)
    progress = BatchProgress(len(planned), live=live_enabled(quiet), quiet=quiet)
    uninstall = _label_log_lines()
    try:
        for skipped in plan.skipped:
            outcome = skipped_outcome(skipped)
            progress.finished(outcome.planned.label, "skipped", outcome.detail)
            emit(outcome)
        runner = Runner(
            client,
            journal,
            concurrency=concurrency,
            progress=progress,
            on_outcome=emit,
            replace=plan.replace,
        )

        async def main() -> RunReport:
            async with client:
                return await runner.run(plan.to_run)

        try:
            report = asyncio.run(main())
        except KeyboardInterrupt:  # no signal handlers (Windows): the loop was stopped
            report = runner.report
            report.interrupted = report.interrupted or "SIGINT"
    finally:
        progress.close()
        uninstall()
    return _finish(report, plan, len(planned), quiet, started)


def _emitter(as_json: bool) -> Any:
    from ..batch.outputs import display_path
    from ..batch.summary import json_line
    from .live import echo_above

    def emit(outcome: Outcome) -> None:
        if as_json:
            echo_above(json.dumps(json_line(outcome), ensure_ascii=False), err=False)
        elif outcome.status == "ok":
            for out in outcome.outputs:  # stdout is often the terminal the bar is drawn on
                echo_above(display_path(out.path), err=False)

    return emit


def _notes(plan: ResumePlan) -> None:
    from ..batch.outputs import display_path
    from ..batch.summary import label_list

    if plan.recover:
        log.warning(
            "finished saving %d output(s) an interrupted run had paid for but not yet put in place",
            len(plan.recover),
        )
    for job, path in plan.superseded:
        log.warning(
            "%s changed since this batch wrote %s; the new result will replace it",
            job.label,
            display_path(path),
        )
    if plan.in_flight:
        log.warning(
            "%d job(s) were in flight when the last run stopped (%s): they are sent again, and "
            "the provider may bill them twice",
            len(plan.in_flight),
            label_list([j.label for j in plan.in_flight]),
        )


def _finish(report: RunReport, plan: ResumePlan, total: int, quiet: bool, started: float) -> int:
    from ..batch.summary import closing_lines, counts_line, failure_lines, problem_lines

    done = len(plan.skipped) + sum(1 for o in report.outcomes if o.status == "ok")
    elapsed = time.monotonic() - started
    if not quiet:
        say("imgedit: " + counts_line(report, len(plan.skipped), total, elapsed))
        for line in problem_lines(plan.skipped):
            say("imgedit: " + line)
    for line in failure_lines(report):
        say("imgedit: " + line)
    for line in closing_lines(report, done, total):
        say("imgedit: " + line)
    if report.interrupted:
        return EXIT_INTERRUPTED
    if report.stopped_by is not None:
        return report.stopped_by.exit_code  # 3 for a refused key
    if any(o.status == "failed" for o in report.outcomes):
        return EXIT_SOME_FAILED
    return 0


def _label_log_lines() -> Any:
    """Prefix log lines about one job (a retry, say) with the job: many run at once."""
    from ..batch.runner import CURRENT_JOB

    class JobLabel(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            label = CURRENT_JOB.get()
            if label and not getattr(record, "_imgedit_job", False):
                prefix = label.replace("%", "%%") if record.args else label  # ids are free text
                record.msg = f"{prefix}: {record.msg}"
                record._imgedit_job = True
            return True

    label = JobLabel()
    handlers = list(logging.getLogger("imgedit").handlers)
    for handler in handlers:
        handler.addFilter(label)

    def uninstall() -> None:
        for handler in handlers:
            handler.removeFilter(label)

    return uninstall


# -- --dry-run ---------------------------------------------------------------------------------


def _print_dry_run(
    planned: list[PlannedJob],
    plan: ResumePlan,
    client: AsyncClient,
    journal_file: Path,
    as_json: bool,
) -> None:
    from ..batch.outputs import display_path
    from ..batch.summary import json_line, skipped_outcome

    skipped = {s.planned.fingerprint: s for s in plan.skipped}
    for p in planned:
        if p.fingerprint in skipped:
            outcome = skipped_outcome(skipped[p.fingerprint])
            if as_json:
                click.echo(json.dumps({**json_line(outcome), "dry_run": True}))
            else:
                click.echo(f"skip  {p.label}: {outcome.detail}")
            continue
        outs = [display_path(o) for o in p.outputs]
        replaced = [display_path(o) for o in p.outputs if o in plan.replace]
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": p.job.id,
                        "line": p.job.line,
                        "status": "pending",
                        "outputs": outs,
                        "replaces": replaced,
                        "prompt": p.prompt,
                        "model": p.model_name,
                        "provider": p.provider_name,
                        "options": {**p.options, **p.extra},
                        "dry_run": True,
                    },
                    ensure_ascii=False,
                    default=str,
                )
            )
            continue
        opts = " ".join(f"{k}={v}" for k, v in {**p.options, **p.extra}.items())
        click.echo(
            f"send  {p.label}: {p.model_name} via {p.provider_name}"
            + (f" [{opts}]" if opts else "")
            + f" -> {', '.join(outs)}"
            + (f" (replaces {', '.join(replaced)})" if replaced else "")
        )
        click.echo(f"      prompt: {p.prompt}")
    missing_keys = _missing_keys(planned, plan, client)
    summary = (
        f"dry run: {len(plan.to_run)} to send, {len(plan.skipped)} to skip"
        + (f", {len(plan.recover)} output(s) to finish saving" if plan.recover else "")
        + (f", {len(plan.stale)} stale partial file(s) to delete" if plan.stale else "")
        + f"; journal {display_path(journal_file)}; nothing was sent."
    )
    say("imgedit: " + summary)
    for note in missing_keys:
        say("imgedit: note: " + note)
    if client.offline:
        say("imgedit: offline: the built-in emulator would answer; nothing leaves this machine")


def _missing_keys(planned: list[PlannedJob], plan: ResumePlan, client: AsyncClient) -> list[str]:
    """A dry run needs no key, but should say that a real run would stop for lack of one."""
    from ..errors import ConfigError

    notes: list[str] = []
    seen: set[str] = set()
    for p in plan.to_run:
        if p.provider_name in seen:
            continue
        seen.add(p.provider_name)
        try:
            p.prepare(client, require_key=True)
        except ConfigError as exc:
            notes.append(f"a real run would stop here: {exc}")
        except Exception:  # the dry run has already reported the job itself
            continue
    return notes

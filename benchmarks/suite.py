"""What is measured: the contenders of each group, how often, and in which order.

Every group runs its contenders round-robin (each round starting one later), after one untimed
round that compiles bytecode and warms the emulator's answer cache, so every contender gets the
same cached answer and drift on a busy machine hits everyone alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import payloads
from .harness import Run, Stat, child_env, file_size, ratio, rotations, run_process
from .server import EmulatorProcess

CLIENTS = Path(__file__).resolve().parent / "clients"
PROMPT = "Add a small red ribbon to the paper boat"
PLUGINS = "cometapi-gpt-image,cometapi-qwen-image-edit"
KEY = "bench"
#: glibc's starting mmap threshold (128 KiB), made fixed for every child. Left adaptive, glibc
#: raises it after the first big free and then keeps freed payload copies in the heap, which
#: moves the raw httpx script's 16 MB peak between 91 and 110 MiB from run to run. Fixed, every
#: block of a payload is returned when freed, so peak RSS counts the copies alive at once.
MMAP_THRESHOLD = "131072"


@dataclass(frozen=True)
class Plan:
    """How much of everything a mode runs."""

    name: str
    cold_runs: int
    edit_runs: int
    async_runs: int
    async_edits: int
    edit_payloads: tuple[tuple[str, payloads.PayloadSpec], ...]
    async_payload: payloads.PayloadSpec = payloads.SMALL
    concurrency: int = 16
    latencies: tuple[float, ...] = (0.0, 0.05)
    warmup: str = "all"
    """Untimed runs before a group: "all" contenders (bytecode, page cache and the emulator's
    answer cache), "first" (the baseline only: enough to fill the answer cache; cold start
    still warms all) or "none"."""
    timeout: float = 300.0


SIZES = (("1mb", payloads.ONE_MB), ("16mb", payloads.SIXTEEN_MB))
SIZE_LABELS = {"1mb": "~1 MB", "16mb": "~16 MB"}
PLANS = {
    "full": Plan("full", cold_runs=11, edit_runs=7, async_runs=5, async_edits=200,
                 edit_payloads=SIZES),
    "quick": Plan("quick", cold_runs=5, edit_runs=3, async_runs=1, async_edits=200,
                  edit_payloads=SIZES, warmup="first"),
    # Every row of the table, one run each, tiny payloads: proves the machinery, times nothing.
    "smoke": Plan("smoke", cold_runs=1, edit_runs=1, async_runs=1, async_edits=20,
                  edit_payloads=(("1mb", payloads.SMALL), ("16mb", payloads.SMALL)),
                  warmup="none", timeout=60.0),
}  # fmt: skip


@dataclass
class Context:
    python: str
    imgedit: str
    workdir: Path
    env: dict[str, str]
    plan: Plan
    log: Callable[[str], None]

    def run(self, argv: Sequence[str], env: dict[str, str] | None = None) -> Run:
        return run_process(argv, env=env or self.env, cwd=self.workdir, timeout=self.plan.timeout)


@dataclass
class Contender:
    key: str
    label: str
    role: str  # "baseline" | "imgedit" | "peer" | "info"
    argv: list[str]
    runs: list[Run] = field(default_factory=list)
    output: Path | None = None
    server_cpu: list[float | None] = field(default_factory=list)
    """The emulator's CPU seconds during each run (async groups)."""

    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    def failures(self) -> list[str]:
        return [r.failure() for r in self.runs if not r.ok]


def find_imgedit() -> str:
    beside = Path(sys.executable).parent / "imgedit"
    if beside.exists():
        return str(beside)
    found = shutil.which("imgedit")
    if not found:
        raise SystemExit(
            "benchmarks: the imgedit command is not installed; run `pip install -e '.[bench]'`."
        )
    return found


def run_rounds(
    ctx: Context,
    contenders: list[Contender],
    rounds: int,
    title: str,
    *,
    warm_all: bool = False,
    server: EmulatorProcess | None = None,
) -> None:
    warm = {"all": contenders, "first": contenders[:1], "none": []}[ctx.plan.warmup]
    for c in contenders if warm_all and warm else warm:
        ctx.run(c.argv)
    started = time.monotonic()
    for order in rotations(len(contenders), rounds):
        for i in order:
            c = contenders[i]
            before = server.cpu_seconds() if server else None
            c.runs.append(ctx.run(c.argv))
            after = server.cpu_seconds() if server else None
            c.server_cpu.append(
                after - before if after is not None and before is not None else None
            )
            if c.output is not None and c.runs[-1].ok and file_size(c.output) is None:
                c.runs[-1] = _failed(c.runs[-1], f"exit 0 but no {c.output.name} was written")
    ctx.log(f"{title}: {rounds} round(s) x {len(contenders)} in {time.monotonic() - started:.1f} s")


def _failed(run: Run, why: str) -> Run:
    return Run(
        run.argv, run.wall_s, run.peak_rss_mib, run.cpu_s, 1, run.stdout, run.stderr + "\n" + why
    )


# -- groups --------------------------------------------------------------------------------


def cold_start(ctx: Context) -> dict[str, Any]:
    py, imgedit = ctx.python, ctx.imgedit
    contenders = [
        Contender("python", 'python -c "pass"', "info", [py, "-c", "pass"]),
        Contender("httpx", 'python -c "import httpx"', "baseline", [py, "-c", "import httpx"]),
        Contender("openai", 'python -c "import openai"', "peer", [py, "-c", "import openai"]),
        Contender("version", "imgedit --version", "imgedit", [imgedit, "--version"]),
        Contender("help", "imgedit --help", "imgedit", [imgedit, "--help"]),
        Contender(
            "import",
            'python -c "import imgedit_core"',
            "imgedit",
            [py, "-c", "import imgedit_core"],
        ),
    ]
    run_rounds(ctx, contenders, ctx.plan.cold_runs, "cold start", warm_all=True)
    return group(
        "cold", "Cold start", contenders, metrics=("wall_s", "peak_rss_mib", "cpu_s"),
        ratio_metrics=("wall_s", "peak_rss_mib", "cpu_s"),
        note="A fresh process each run; the ratio is to `python -c \"import httpx\"`.",
    )  # fmt: skip


def one_edit(ctx: Context, group_id: str, spec: payloads.PayloadSpec) -> dict[str, Any]:
    py, imgedit = ctx.python, ctx.imgedit
    src = payloads.ensure(spec)
    outdir = ctx.workdir / f"out-{group_id}"
    outdir.mkdir(exist_ok=True)

    def script(name: str, key: str) -> list[str]:
        return [py, str(CLIENTS / name), str(src), str(outdir / f"{key}.png"), spec.size, PROMPT]

    contenders = [
        Contender("raw", "raw httpx script", "baseline", script("raw_httpx_edit.py", "raw")),
        Contender("openai", "openai SDK", "peer", script("openai_edit.py", "openai")),
        Contender(
            "cli", "imgedit CLI", "imgedit",
            [imgedit, "edit", str(src), "-p", PROMPT, "-m", "gpt-image-2", "--size", spec.size,
             "-o", str(outdir / "cli.png"), "--force", "-q"],
        ),
        Contender("api", "imgedit Python API", "imgedit", script("imgedit_api_edit.py", "api")),
    ]  # fmt: skip
    for c in contenders:
        c.output = outdir / f"{c.key}.png"
    run_rounds(ctx, contenders, ctx.plan.edit_runs, f"one edit, {group_id}")
    digests = {c.key: _digest(c.output) for c in contenders if c.output is not None}
    answer = file_size(outdir / "raw.png")
    same = len({d for d in digests.values() if d is not None}) == 1 and None not in digests.values()
    result = group(
        f"edit-{group_id}",
        f"One edit per process, {SIZE_LABELS.get(group_id, group_id)}: "
        f"{_mb(src.stat().st_size)} in, {_mb(answer)} answer"
        + (" (smoke: tiny payload)" if ctx.plan.name == "smoke" else ""),
        contenders,
        metrics=("wall_s", "peak_rss_mib", "cpu_s"),
        ratio_metrics=("wall_s", "peak_rss_mib", "cpu_s"),
        note=(
            f"`{src.name}` ({spec.width}x{spec.height} noise) sent as gpt-image-2 size "
            f"{spec.size}; the answer is {_mb(answer)} of PNG, "
            f"{_mb(_b64_len(answer))} as base64. Every contender wrote the same bytes: "
            f"{'yes' if same else 'NO'}."
        ),
    )
    result["payload"] = {
        "file": src.name,
        "input_bytes": src.stat().st_size,
        "answer_bytes": answer,
        "answer_b64_bytes": _b64_len(answer),
        "size": spec.size,
        "same_output": same,
    }
    return result


def async_throughput(ctx: Context, latency: float, emulator_env: dict[str, str]) -> dict[str, Any]:
    plan, spec = ctx.plan, ctx.plan.async_payload
    src = payloads.ensure(spec)
    with EmulatorProcess(
        ctx.imgedit, latency=latency, env=emulator_env, cwd=ctx.workdir
    ) as emulator:
        env = endpoint_env(ctx.env, emulator.base_url)
        args = [str(src), spec.size, PROMPT, str(plan.async_edits), str(plan.concurrency)]

        def script(name: str) -> list[str]:
            return [ctx.python, str(CLIENTS / name), *args]

        contenders = [
            Contender("raw", "raw httpx.AsyncClient", "baseline", script("raw_httpx_async.py")),
            Contender("openai", "AsyncOpenAI", "peer", script("openai_async.py")),
            Contender("imgedit", "imgedit AsyncClient", "imgedit", script("imgedit_async.py")),
        ]
        sub = Context(ctx.python, ctx.imgedit, ctx.workdir, env, plan, ctx.log)
        ms = round(latency * 1000)
        run_rounds(sub, contenders, plan.async_runs, f"async, {ms} ms", server=emulator)
    for c in contenders:
        c.runs = [_checked_async(r, plan.async_edits) for r in c.runs]
        c.server_cpu = [
            None if cpu is None else 1000 * cpu / plan.async_edits for cpu in c.server_cpu
        ]
    bound = plan.concurrency / latency if latency > 0 else None
    result = group(
        f"async-{ms}ms",
        f"Async throughput, {plan.async_edits} edits at concurrency {plan.concurrency}, "
        f"{ms} ms server latency",
        contenders,
        metrics=("throughput", "phase_s", "startup_s", "first_edit_s", "wall_s", "cpu_s",
                 "client_cpu_ms", "server_cpu_ms", "peak_rss_mib"),
        ratio_metrics=("throughput",),
        note=(
            f"Edits per second over the {plan.async_edits}-edit phase, timed inside the process "
            f"after imports, client set-up and one untimed edit (which takes every client's lazy "
            f"set-up out of the phase: TLS context, plugins, a first connection); startup is "
            f"the rest of the process's wall time. "
            f"Client and server CPU are per edit, over the phase (the client's own process time; "
            f"the emulator's, from /proc); the two share the machine's cores."
            + (f" The bound is {plan.concurrency} / {latency:g} s = {bound:g} edits/s." if bound
               else " At 0 ms there is no latency bound: CPU per edit, client's and server's, "
                    "sets the pace.")
        ),
    )  # fmt: skip
    result["bound"] = bound
    for row in result["rows"]:
        tp = row["stats"].get("throughput")
        row["bound_fraction"] = tp["median"] / bound if tp and bound else None
    return result


def _checked_async(run: Run, edits: int) -> Run:
    if not run.ok:
        return run
    try:
        info = json.loads(run.stdout.strip().splitlines()[-1])
        if info["edits"] != edits:
            return _failed(run, f"{info['edits']} edits reported, {edits} expected")
    except (ValueError, IndexError, KeyError, TypeError):
        return _failed(run, f"no JSON line on stdout: {run.stdout[-200:]!r}")
    return run


def _metrics(run: Run, server_cpu: float | None = None) -> dict[str, float]:
    values = {"wall_s": run.wall_s, "peak_rss_mib": run.peak_rss_mib, "cpu_s": run.cpu_s}
    if server_cpu is not None:
        values["server_cpu_ms"] = server_cpu
    if run.stdout.strip().startswith("{"):
        info = json.loads(run.stdout.strip().splitlines()[-1])
        values["phase_s"] = info["seconds"]
        values["throughput"] = info["edits"] / info["seconds"]
        values["startup_s"] = run.wall_s - info["seconds"]
        values["first_edit_s"] = info["first_edit_seconds"]
        values["client_cpu_ms"] = 1000 * info["cpu_seconds"] / info["edits"]
    return values


def group(
    group_id: str,
    title: str,
    contenders: list[Contender],
    *,
    metrics: tuple[str, ...],
    ratio_metrics: tuple[str, ...],
    note: str,
) -> dict[str, Any]:
    """One table: a row per contender with stats per metric and ratios to the baseline."""
    stats: dict[str, dict[str, Stat | None]] = {}
    for c in contenders:
        cpu = c.server_cpu or [None] * len(c.runs)
        per_run = [_metrics(r, s) for r, s in zip(c.runs, cpu, strict=True) if r.ok]
        stats[c.key] = {m: Stat.of([v[m] for v in per_run if m in v]) for m in metrics}
    base = next(c.key for c in contenders if c.role == "baseline")
    rows = []
    for c in contenders:
        rows.append(
            {
                "id": c.key,
                "label": c.label,
                "role": c.role,
                "argv": _shown(c.argv),
                "runs": len(c.runs),
                "failures": c.failures(),
                "stats": {m: s.as_dict() if s else None for m, s in stats[c.key].items()},
                "ratios": {m: ratio(stats[c.key][m], stats[base][m]) for m in ratio_metrics},
            }
        )
    return {"id": group_id, "title": title, "note": note, "baseline": base, "rows": rows}


def endpoint_env(base_env: dict[str, str], base_url: str) -> dict[str, str]:
    env = dict(base_env)
    env.update(
        COMETAPI_BASE_URL=base_url,
        COMETAPI_KEY=KEY,
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY=KEY,
    )
    return env


def run_all(plan: Plan, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every group of the plan, in a temporary working folder with its own config folder.

    One emulator process (0 ms) serves the single edits; each async latency gets its own.
    """
    imgedit = find_imgedit()
    with tempfile.TemporaryDirectory(prefix="imgedit-bench-") as tmp:
        workdir = Path(tmp)
        config = workdir / "xdg-config"
        config.mkdir()
        base_env = child_env(
            os.environ,
            XDG_CONFIG_HOME=str(config),
            IMGEDIT_LOAD_PLUGINS=PLUGINS,
            MALLOC_MMAP_THRESHOLD_=MMAP_THRESHOLD,
        )
        for _, spec in plan.edit_payloads:
            payloads.ensure(spec)
        payloads.ensure(plan.async_payload)
        ctx = Context(sys.executable, imgedit, workdir, base_env, plan, log)
        groups = [cold_start(ctx)]
        with EmulatorProcess(imgedit, latency=0.0, env=base_env, cwd=workdir) as emulator:
            if not emulator.cache:
                log("note: this emulator has no --cache; every answer is rendered afresh")
            edit_ctx = Context(
                ctx.python, imgedit, workdir, endpoint_env(base_env, emulator.base_url), plan, log
            )
            for group_id, spec in plan.edit_payloads:
                groups.append(one_edit(edit_ctx, group_id, spec))
        for latency in plan.latencies:
            groups.append(async_throughput(ctx, latency, base_env))
        return groups


def _digest(path: Path | None) -> str | None:
    if path is None or not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _b64_len(n: int | None) -> int | None:
    return None if n is None else 4 * ((n + 2) // 3)


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} KB"


def _shown(argv: Sequence[str]) -> str:
    """The command as a person would type it: paths shortened to their names."""
    out = []
    for a in argv:
        if a == sys.executable:
            out.append("python")
        elif "/" in a and not a.startswith("-"):
            out.append(Path(a).name)
        else:
            out.append(f'"{a}"' if " " in a else a)
    return " ".join(out)

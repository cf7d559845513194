"""Running one contender as a process and summarising many runs.

Wall time is ``perf_counter`` around spawn → ``os.wait4``, so it covers interpreter start,
imports and exit; peak memory is the child's own ``ru_maxrss`` from the same ``wait4``. Both are
taken by a tiny launcher (spawn.py), not by this process: a child's ``ru_maxrss`` would
otherwise start at this process's size. The child's output goes to temporary files, never to
a pipe that could fill and stall it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LAUNCHER = Path(__file__).resolve().parent / "spawn.py"


@dataclass(frozen=True)
class Run:
    """One finished process."""

    argv: tuple[str, ...]
    wall_s: float
    peak_rss_mib: float
    cpu_s: float
    """User plus system CPU time of the command (its own, from ``wait4``)."""
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        """What went wrong, in one line a person can act on."""
        if self.timed_out:
            return f"timed out after {self.wall_s:.0f} s"
        tail = (self.stderr.strip().splitlines() or ["(no output on stderr)"])[-1]
        return f"exit {self.returncode}: {tail[:300]}"


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    timeout: float = 300.0,
) -> Run:
    """Run ``argv`` through the launcher (spawn.py) and return its wall time and peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(suffix=".json") as result,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(LAUNCHER), result.name, *argv],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a timeout kills the command with its launcher
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        try:
            measured = json.loads(Path(result.name).read_text() or "{}")
        except ValueError:
            measured = {}
    if "wall_s" not in measured:  # the launcher itself failed (a missing command, say)
        return Run(tuple(argv), float(timeout if timed_out else 0), 0.0, 0.0,
                   proc.returncode or 1, stdout, stderr, timed_out)  # fmt: skip
    return Run(
        argv=tuple(argv),
        wall_s=measured["wall_s"],
        peak_rss_mib=measured["maxrss_kib"] / 1024,  # Linux reports KiB
        cpu_s=measured["cpu_s"],
        returncode=measured["returncode"],
        stdout=stdout,
        stderr=stderr,
    )


@dataclass(frozen=True)
class Stat:
    """Median and spread of one metric over N runs."""

    median: float
    min: float
    max: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat | None:
        if not values:
            return None
        ordered = sorted(values)
        if len(ordered) == 1:
            q1 = q3 = ordered[0]
        else:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        return cls(statistics.median(ordered), ordered[0], ordered[-1], q1, q3, len(ordered))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ratio(value: Stat | None, baseline: Stat | None) -> float | None:
    """Median over median; None when either side has no measurement."""
    if value is None or baseline is None or baseline.median == 0:
        return None
    return value.median / baseline.median


def rotations(count: int, rounds: int) -> list[list[int]]:
    """Round-robin orders: every round runs every contender once, each round starting one
    later, so no contender always follows the same neighbour on a busy machine."""
    return [[(start + i) % count for i in range(count)] for start in range(rounds)]


def child_env(base: Mapping[str, str], **extra: str) -> dict[str, str]:
    """The environment every contender gets: the caller's, minus anything that would change
    what a client does (keys, settings, proxies, Python debug switches), plus ``extra``.

    ``PYTHONDONTWRITEBYTECODE`` goes too: an installed package has its bytecode compiled, and
    an editable checkout without it would recompile imgedit on every run while httpx and
    openai load theirs from site-packages.
    """
    dropped_prefixes = ("IMGEDIT_", "COMETAPI_", "OPENAI_")
    dropped = {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "PYTHONDEVMODE",
        "PYTHONTRACEMALLOC",
        "PYTHONPROFILEIMPORTTIME",
        "PYTHONMALLOC",
        "PYTHONASYNCIODEBUG",
        "PYTHONWARNINGS",
        "PYTHONINSPECT",
        "PYTHONBREAKPOINT",
        "PYTHONDONTWRITEBYTECODE",
    }
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith(dropped_prefixes) and k.upper() not in dropped
    }
    env.update(extra)
    return env


def file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None

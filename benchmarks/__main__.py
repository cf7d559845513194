"""``python -m benchmarks [--quick | --smoke] [--out DIR]``: run, print the budgets, write the
table as ``DIR/benchmark.md`` and ``DIR/benchmark.json`` (default ``benchmarks/results``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import report
from .server import EmulatorError
from .suite import PLANS, run_all

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="imgedit side by side with raw httpx and the openai SDK, against the "
        "loopback emulator. Budgets are reported, never enforced: the exit status is 1 only "
        "when a contender failed to run.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer runs: under a minute")
    mode.add_argument(
        "--smoke", action="store_true", help="one run each, tiny payloads: proves it runs"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for the table (default {DEFAULT_OUT})",
    )
    args = parser.parse_args(argv)
    name = "quick" if args.quick else "smoke" if args.smoke else "full"

    def log(line: str) -> None:
        print(f"benchmarks: {line}", file=sys.stderr, flush=True)

    info = report.machine()
    log(f"{name} run on {info['cpu']} ({info['cores']} cores), load {info['load_average']}")
    started = time.monotonic()
    try:
        groups = run_all(PLANS[name], log)
    except EmulatorError as exc:
        log(str(exc))
        return 1
    result = report.build(groups, mode=name, info=info, seconds=time.monotonic() - started)
    args.out.mkdir(parents=True, exist_ok=True)
    md, js = args.out / "benchmark.md", args.out / "benchmark.json"
    md.write_text(report.markdown(result), encoding="utf-8")
    js.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(report.summary(result))
    print(f"{md}\n{js}")
    for failure in result["failures"]:
        log(f"FAILED {failure}")
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks --smoke`` runs every contender once against the loopback emulator and
writes a table with every row, its ratios and every budget marked met or missed.

Nothing here asserts a timing: the smoke run proves the machinery, the numbers come from a full
run on a quiet machine (docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent

ROWS = {
    "cold": ["python", "httpx", "openai", "version", "help", "import"],
    "edit-1mb": ["raw", "openai", "cli", "api"],
    "edit-16mb": ["raw", "openai", "cli", "api"],
    "async-0ms": ["raw", "openai", "imgedit"],
    "async-50ms": ["raw", "openai", "imgedit"],
}
RATIOS = {"cold": "wall_s", "edit": "peak_rss_mib", "async": "throughput"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    report = json.loads((out / "benchmark.json").read_text())
    return report, (out / "benchmark.md").read_text()


def test_every_row_ran_and_has_its_medians_and_ratios(smoke: tuple[dict[str, Any], str]) -> None:
    report, _ = smoke
    groups = {g["id"]: g for g in report["groups"]}
    assert {gid: [r["id"] for r in g["rows"]] for gid, g in groups.items()} == ROWS
    assert report["failures"] == []
    for gid, group in groups.items():
        for row in group["rows"]:
            where = f"{gid}/{row['id']}"
            assert row["runs"] == 1, where
            timed = {m: s for m, s in row["stats"].items() if m != "server_cpu_ms"}  # /proc, ticks
            assert all(s is not None and s["median"] > 0 for s in timed.values()), where
            assert row["ratios"][RATIOS[gid.split("-")[0]]] is not None, where
    assert groups["async-50ms"]["bound"] == 320
    assert all(r["bound_fraction"] is not None for r in groups["async-50ms"]["rows"])


def test_every_contender_wrote_the_same_answer(smoke: tuple[dict[str, Any], str]) -> None:
    """The same request and the same cached answer for everyone, or the comparison is unfair."""
    report, _ = smoke
    for group in report["groups"]:
        if group["id"].startswith("edit"):
            assert group["payload"]["same_output"] is True, group["id"]
            assert group["payload"]["answer_bytes"] > 0


def test_every_budget_is_marked_met_or_missed(smoke: tuple[dict[str, Any], str]) -> None:
    report, markdown = smoke
    budgets = report["budgets"]
    assert len(budgets) == 13
    for b in budgets:
        assert b["value"] is not None, b["budget"]
        assert isinstance(b["met"], bool), b["budget"]
        line = next(line for line in markdown.splitlines() if line.startswith(f"| {b['budget']} |"))
        assert line.endswith("| met |" if b["met"] else "| **missed** |"), line


def test_the_markdown_has_a_table_per_group_and_the_machine(
    smoke: tuple[dict[str, Any], str],
) -> None:
    report, markdown = smoke
    assert report["machine"]["cores"]
    assert report["machine"]["versions"]["openai"]
    for group in report["groups"]:
        assert f"## {group['title']}" in markdown
        for row in group["rows"]:
            assert row["label"] in markdown, row["label"]
    assert "*baseline*" in markdown


def test_a_child_is_charged_its_own_memory_not_the_harness_s() -> None:
    """ru_maxrss of a child forked from a big process starts at that process's size; the
    launcher keeps a 200 MB harness from inflating a 10 MB child, and still sees a big one."""
    code = (
        "import os, sys\n"
        "from benchmarks.harness import run_process\n"
        "ballast = bytearray(200 * 2**20)\n"
        "env = dict(os.environ)\n"
        "small = run_process([sys.executable, '-c', 'pass'], env=env, cwd='.')\n"
        "grow = 'b = bytearray(120 * 2**20)'\n"
        "big = run_process([sys.executable, '-c', grow], env=env, cwd='.')\n"
        "print(small.peak_rss_mib, big.peak_rss_mib, small.returncode, big.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    small, big, small_rc, big_rc = done.stdout.split()
    assert (small_rc, big_rc) == ("0", "0")
    assert float(small) < 100
    assert float(big) >= 120

"""The table: Markdown for people, JSON for machines, each budget marked met or missed.

Budgets are ratios measured in one run, never assertions: a missed budget is reported, and the
benchmark still exits 0. Only a contender that failed to run makes it exit 1.
"""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from typing import Any


@dataclass(frozen=True)
class Budget:
    """``row`` of ``group`` must have ``measure`` ``op`` ``limit``.

    ``measure`` is ``ratio:METRIC`` (median over the baseline's median) or ``bound_fraction``.
    """

    group: str
    row: str
    measure: str
    op: str  # "<=" or ">="
    limit: float
    text: str

    def check(self, groups: list[dict[str, Any]]) -> dict[str, Any]:
        value = self.value(groups)
        met = (
            None
            if value is None
            else value <= self.limit
            if self.op == "<="
            else value >= self.limit
        )
        return {
            "budget": self.text,
            "group": self.group,
            "row": self.row,
            "measure": self.measure,
            "op": self.op,
            "limit": self.limit,
            "value": value,
            "met": met,
        }

    def value(self, groups: list[dict[str, Any]]) -> float | None:
        row = find_row(groups, self.group, self.row)
        if row is None:
            return None
        if self.measure.startswith("ratio:"):
            value = row["ratios"].get(self.measure.split(":", 1)[1])
        else:
            value = row.get(self.measure)
        return float(value) if value is not None else None


def budgets() -> list[Budget]:
    """Issue 7's budgets, one line each."""
    out = [
        Budget("cold", "version", "ratio:wall_s", "<=", 1.0,
               '`imgedit --version` <= 1.0x `python -c "import httpx"`'),
        Budget("cold", "help", "ratio:wall_s", "<=", 1.5,
               '`imgedit --help` <= 1.5x `python -c "import httpx"`'),
    ]  # fmt: skip
    for size, label in (("1mb", "~1 MB"), ("16mb", "~16 MB")):
        for row, who in (("cli", "CLI"), ("api", "Python API")):
            out.append(
                Budget(f"edit-{size}", row, "ratio:wall_s", "<=", 1.3,
                       f"one edit {label}, {who}: wall <= 1.3x raw httpx")
            )  # fmt: skip
            out.append(
                Budget(f"edit-{size}", row, "ratio:peak_rss_mib", "<=", 1.15,
                       f"one edit {label}, {who}: peak RSS <= 1.15x raw httpx")
            )  # fmt: skip
    for ms in (0, 50):
        out.append(
            Budget(f"async-{ms}ms", "imgedit", "ratio:throughput", ">=", 1.0,
                   f"async {ms} ms: imgedit AsyncClient >= 1.0x raw httpx.AsyncClient")
        )  # fmt: skip
    out.append(
        Budget("async-50ms", "imgedit", "bound_fraction", ">=", 0.85,
               "async 50 ms: imgedit AsyncClient >= 0.85 of the bound (16 / 0.05 s = 320/s)")
    )  # fmt: skip
    return out


def find_row(groups: list[dict[str, Any]], group_id: str, row_id: str) -> dict[str, Any] | None:
    for g in groups:
        if g["id"] == group_id:
            return next((r for r in g["rows"] if r["id"] == row_id), None)
    return None


def machine() -> dict[str, Any]:
    """Where the numbers came from: they mean little without it."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in ("imgedit", "httpx", "openai", "pillow")},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def build(
    groups: list[dict[str, Any]], *, mode: str, info: dict[str, Any], seconds: float
) -> dict[str, Any]:
    checks = [b.check(groups) for b in budgets()]
    return {
        "mode": mode,
        "machine": info,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(seconds, 1),
        "command": "python -m benchmarks" + ("" if mode == "full" else f" --{mode}"),
        "groups": groups,
        "budgets": checks,
        "failures": [
            f"{g['id']}/{r['id']}: {f}" for g in groups for r in g["rows"] for f in r["failures"]
        ],
    }


# -- Markdown ------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    v = m["versions"]
    lines = [
        f"# imgedit benchmark ({report['mode']})",
        "",
        f"{m['date']}; {m['cpu']}, {m['cores']} cores, {m['os']}; Python {m['python']}, "
        f"imgedit {v['imgedit']}, httpx {v['httpx']}, openai {v['openai']}, "
        f"Pillow {v['pillow']}. Load average {_load(m['load_average'])} before, "
        f"{_load(report['load_average_after'])} after; the run took {report['seconds']:.0f} s. "
        f"Command: `{report['command']}`.",
        "",
        "Medians of N runs, spread as min-max; ratios are median over the baseline's median "
        "(marked *baseline*). Wall time, CPU time and peak RSS cover the whole process, "
        "interpreter start to exit. Every child runs with `MALLOC_MMAP_THRESHOLD_=131072`, so "
        "peak RSS counts the payload copies alive at once rather than glibc's heap reuse.",
        "",
        "## Budgets",
        "",
        "| budget | measured | |",
        "|---|---:|---|",
    ]
    for b in report["budgets"]:
        value = b["value"]
        shown = (
            "not measured"
            if value is None
            else _budget_value(b) + ("" if b["measure"] == "bound_fraction" else "x")
        )
        verdict = "not measured" if b["met"] is None else "met" if b["met"] else "**missed**"
        lines.append(f"| {b['budget']} | {shown} | {verdict} |")
    for g in report["groups"]:
        lines += ["", f"## {g['title']}", "", g["note"], ""]
        if g["id"].startswith("async"):
            lines += _async_table(g)
        else:
            lines += _process_table(g)
    if report["failures"]:
        lines += ["", "## Failures", ""]
        lines += [f"- {f}" for f in report["failures"]]
    return "\n".join(lines) + "\n"


def _process_table(g: dict[str, Any]) -> list[str]:
    command = g["id"] == "cold"
    rows = [
        "| contender | runs | wall ms | min-max | ratio | peak RSS MiB | min-max | ratio "
        "| CPU ms | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in g["rows"]:
        wall, rss, cpu = (r["stats"][m] for m in ("wall_s", "peak_rss_mib", "cpu_s"))
        rows.append(
            f"| {_label(r, command)} | {_runs(r)} | {_ms(_med(wall))} | {_spread(wall, _ms)} "
            f"| {_ratio(r, 'wall_s')} | {_mib(_med(rss))} | {_spread(rss, _mib)} "
            f"| {_ratio(r, 'peak_rss_mib')} | {_ms(_med(cpu))} | {_ratio(r, 'cpu_s')} |"
        )
    return rows


def _async_table(g: dict[str, Any]) -> list[str]:
    rows = [
        "| contender | runs | edits/s | min-max | ratio | of bound | phase s | startup s "
        "| client CPU ms/edit | server CPU ms/edit | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in g["rows"]:
        s = r["stats"]
        tp = s["throughput"]
        frac = r.get("bound_fraction")
        rows.append(
            f"| {_label(r)} | {_runs(r)} | {_num(_med(tp), 1)} "
            f"| {_spread(tp, lambda x: _num(x, 1))} | {_ratio(r, 'throughput')} "
            f"| {'n/a' if frac is None else f'{frac:.2f}'} "
            f"| {_num(_med(s['phase_s']))} | {_num(_med(s['startup_s']))} "
            f"| {_num(_med(s['client_cpu_ms']))} | {_num(_med(s['server_cpu_ms']))} "
            f"| {_mib(_med(s['peak_rss_mib']))} |"
        )
    return rows


def _med(stat: dict[str, Any] | None) -> float | None:
    return None if not stat else float(stat["median"])


def _budget_value(b: dict[str, Any]) -> str:
    """Three decimals, or four when three would round a miss onto the limit (0.9996 vs 1.0)."""
    shown = f"{b['value']:.3f}"
    if float(shown) == b["limit"] and not b["met"]:
        shown = f"{b['value']:.4f}"
    return shown


def _label(row: dict[str, Any], command: bool = False) -> str:
    label = f"`{row['label']}`" if command else row["label"]
    return f"{label} *baseline*" if row["role"] == "baseline" else label


def _runs(row: dict[str, Any]) -> str:
    failed = len(row["failures"])
    return f"{row['runs'] - failed}" + (f" ({failed} failed)" if failed else "")


def _ratio(row: dict[str, Any], metric: str) -> str:
    value = row["ratios"].get(metric)
    if value is None:
        return "-"
    return "1.00x" if row["role"] == "baseline" else f"{value:.2f}x"


def _spread(stat: dict[str, Any] | None, fmt: Any) -> str:
    if not stat:
        return "-"
    return f"{fmt(stat['min'])}-{fmt(stat['max'])}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _load(values: list[float]) -> str:
    return " / ".join(f"{x:.2f}" for x in values)


def summary(report: dict[str, Any]) -> str:
    """The budgets in a few lines, for the terminal."""
    lines = []
    for b in report["budgets"]:
        verdict = "n/a   " if b["met"] is None else "met   " if b["met"] else "MISSED"
        value = "-" if b["value"] is None else _budget_value(b)
        lines.append(f"  {verdict} {value:>6}  {b['budget']}")
    return "\n".join(lines)

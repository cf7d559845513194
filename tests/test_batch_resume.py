"""The proof that a batch resumes: 120 jobs, the installed ``imgedit batch`` as a process, a
loopback emulator with latency and injected failures, and a ``kill -9`` in the middle.

The kill is deterministic: once the journal holds 40 finished jobs the server is paused (it
holds every answer), the test waits until the client has journaled and saved every answer
the server has already sent, then kills the client and lets the held answers go out to a dead
process. The rerun of the same command must finish the batch with every job edited exactly
once: counted at the server, from the prompts it received and the times it answered.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import installed_imgedit

from imgedit_core.emulator import Emulator, EmulatorServer, RequestLog, RequestRecord
from imgedit_core.testing import make_image

pytestmark = pytest.mark.integration

JOBS = 120
CONCURRENCY = 8
KILL_AFTER = 40
PLUGINS = "cometapi-gpt-image,cometapi-qwen-image-edit"
JOB_IN_PROMPT = re.compile(r"\(job (j\d{3})\)")
#: Consumed one per request in arrival order, all before the kill (which waits for 40 jobs).
FAULTS = [
    *["ok"] * 3,
    "503",
    *["ok"] * 3,
    "429:retry-after=0.1",
    *["ok"] * 3,
    "reset",
    *["ok"] * 3,
    "502",
    *["ok"] * 3,
    "503",
]


def journal_entries(path: Path) -> list[dict[str, Any]]:
    """What the running batch has fsynced so far (a line being written is not yet one)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def job_of(record: RequestRecord) -> str:
    found = JOB_IN_PROMPT.search(record.fields.get("prompt", ""))
    assert found, record.fields
    return found.group(1)


def peak(records: list[RequestRecord]) -> int:
    log = RequestLog()
    for record in records:
        log.add(record)
    return log.peak_concurrency()


def test_kill_9_mid_batch_then_the_rerun_edits_every_job_exactly_once(tmp_path: Path) -> None:
    images = tmp_path / "shots"
    images.mkdir()
    ids = [f"j{i:03d}" for i in range(JOBS)]
    with (tmp_path / "jobs.jsonl").open("w") as fh:
        for i, job in enumerate(ids):
            (images / f"p{i}.png").write_bytes(make_image(16, 16))
            line = {"id": job, "image": f"shots/p{i}.png", "prompt": f"Add a ribbon (job {job})"}
            fh.write(json.dumps(line) + "\n")
    out = tmp_path / "out"
    journal = out / ".imgedit-batch.jobs.jsonl"
    command = [
        installed_imgedit(),
        "batch",
        str(tmp_path / "jobs.jsonl"),
        "--out-dir",
        str(out),
        "--output",
        "{id}.{ext}",
        "--option",
        "output_format=jpeg",  # the emulator renders JPEG twice as fast as PNG
        "--concurrency",
        str(CONCURRENCY),
        "--json",
    ]

    with EmulatorServer(Emulator(latency=0.1, faults=FAULTS)) as server:
        env = {
            **os.environ,
            "COMETAPI_BASE_URL": server.base_url,
            "COMETAPI_KEY": "sk-batch-proof",
            "IMGEDIT_LOAD_PLUGINS": PLUGINS,
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        }
        env.pop("IMGEDIT_OFFLINE", None)
        with (
            (tmp_path / "run1.out").open("w") as stdout,
            (tmp_path / "run1.err").open("w") as stderr,
        ):
            first = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
            try:
                wait_for(
                    lambda: (
                        sum(e["event"] == "done" for e in journal_entries(journal)) >= KILL_AFTER
                    ),
                    f"{KILL_AFTER} jobs are journaled done",
                )
                server.pause()
                wait_for(lambda: _settled(server, journal), "every answer sent is saved")
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait()
        killed_at = time.monotonic()
        server.resume()
        assert first.returncode == -signal.SIGKILL

        # After the kill: nothing half-written, nothing on disk the journal does not vouch for.
        entries = journal_entries(journal)
        done = {e["id"]: e for e in entries if e["event"] == "done"}
        assert KILL_AFTER <= len(done) < JOBS
        in_flight = {e["id"] for e in entries if e["event"] == "sent"} - set(done)
        assert in_flight, "the kill came while edits were in flight"
        assert not list(out.glob(".*.imgedit-partial"))
        on_disk = {p.name for p in out.iterdir() if p != journal}
        assert on_disk == {f"{job}.jpg" for job in done}
        assert server.emulator.plan.pending() == []  # every injected failure happened in run 1

        second = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=60, check=False
        )

    assert second.returncode == 0, second.stderr
    assert f"{len(in_flight)} job(s) were in flight when the last run stopped" in second.stderr
    lines = [json.loads(line) for line in second.stdout.splitlines()]
    statuses = Counter(line["status"] for line in lines)
    assert statuses == {"skipped": len(done), "ok": JOBS - len(done)}

    # Every job's output is saved, whole, with the checksum the journal recorded for it.
    entries = journal_entries(journal)
    done_entries = [e for e in entries if e["event"] == "done"]
    assert sorted(e["id"] for e in done_entries) == ids  # each job finished exactly once
    for entry in done_entries:
        (output,) = entry["outputs"]
        data = Path(output["path"]).read_bytes()
        assert data.startswith(b"\xff\xd8\xff")  # JPEG, as asked
        assert hashlib.sha256(data).hexdigest() == output["sha256"]
    assert not list(out.glob(".*.imgedit-partial"))

    # At the server: one successful answer per job reached a live client. Answers held at the
    # pause went out after the kill, to a dead process: they started before it, ended after.
    edits = [r for r in server.requests if r.method == "POST" and r.path == "/v1/images/edits"]
    live = [r for r in edits if r.ended < killed_at or r.started > killed_at]
    answered = Counter(job_of(r) for r in live if r.status == 200)
    assert answered == dict.fromkeys(ids, 1)
    assert {r.status for r in edits} >= {200, 429, 502, 503, None}  # the faults did happen

    # Concurrency is real and bounded: server-side timestamps show exactly N edits at once.
    run1 = [r for r in edits if r.started < killed_at]
    run2 = [r for r in edits if r.started > killed_at]
    assert peak(run1) == CONCURRENCY
    assert peak(run2) == CONCURRENCY


def _settled(server: EmulatorServer, journal: Path) -> bool:
    """Paused: every 200 the server sent is journaled done and its file is in place, and no
    answer is still on its way out (the record count holds still for a moment)."""
    before = len(server.requests)
    entries = journal_entries(journal)
    done = {e["id"] for e in entries if e["event"] == "done"}
    sent_ok = {
        job_of(r)
        for r in server.requests
        if r.status == 200 and r.path == "/v1/images/edits" and r.method == "POST"
    }
    if not sent_ok <= done:
        return False
    for entry in entries:
        if entry["event"] == "done" and not all(Path(o["path"]).exists() for o in entry["outputs"]):
            return False
    time.sleep(0.1)
    return len(server.requests) == before

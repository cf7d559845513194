"""Ctrl-C and SIGTERM in the middle of a batch: jobs in flight are cancelled, nothing is left
half-written, the message says how to continue, and the rerun does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import installed_imgedit

from imgedit_core.emulator import Emulator, EmulatorServer
from imgedit_core.testing import make_image

pytestmark = pytest.mark.integration

PLUGINS = "cometapi-gpt-image,cometapi-qwen-image-edit"


def sent(journal: Path) -> int:
    try:
        lines = journal.read_text().splitlines()
    except FileNotFoundError:
        return 0
    return sum('"event":"sent"' in line for line in lines)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_batch_cancels_cleanly_and_the_rerun_continues(
    tmp_path: Path, signum: signal.Signals
) -> None:
    for i in range(5):
        (tmp_path / f"p{i}.png").write_bytes(make_image(16, 16))
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        "".join(
            json.dumps({"image": f"p{i}.png", "prompt": f"ribbon {i}"}) + "\n" for i in range(5)
        )
    )
    out = tmp_path / "out"
    journal = out / ".imgedit-batch.jobs.jsonl"
    command = [installed_imgedit(), "batch", str(jobs), "--out-dir", str(out), "--concurrency", "3"]

    with EmulatorServer(Emulator()) as server:
        env: dict[str, Any] = {
            **os.environ,
            "COMETAPI_BASE_URL": server.base_url,
            "COMETAPI_KEY": "sk-interrupt-test",
            "IMGEDIT_LOAD_PLUGINS": PLUGINS,
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        }
        server.pause()  # every answer held: three edits stay in flight
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            deadline = time.monotonic() + 15
            while sent(journal) < 3:
                assert time.monotonic() < deadline, "the batch never sent its first edits"
                time.sleep(0.02)
            proc.send_signal(signum)
            stdout, stderr = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
        server.resume()

        assert proc.returncode == 130, stderr
        name = signal.Signals(signum).name
        assert f"imgedit: interrupted ({name}): 0 of 5 jobs are done; rerun the same command" in (
            stderr
        )
        assert "3 job(s) in flight were cancelled" in stderr
        assert "Traceback" not in stderr
        assert stdout == ""
        assert sorted(p.name for p in out.iterdir()) == [journal.name]  # no output, no partial
        assert '"event":"done"' not in journal.read_text()

        if signum != signal.SIGINT:
            return
        again = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=30, check=False
        )

    assert again.returncode == 0, again.stderr
    assert "3 job(s) were in flight when the last run stopped" in again.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        f"p{i}.png" for i in range(5)
    ]

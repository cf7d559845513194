"""``imgedit batch`` as a person uses it: outputs, --json lines, the summary, exit codes,
reruns (skip, recover, redo), --dry-run, the lock and rate limits.

The in-process emulator answers (``--offline``); each test gets its own, so the requests it
saw, their form fields and their times can be counted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from imgedit_core.batch.journal import Journal
from imgedit_core.cli.main import cli
from imgedit_core.emulator import Emulator, RequestRecord, offline_async_http_client
from imgedit_core.testing import make_image

JOURNAL = Path("out/.imgedit-batch.jobs.jsonl")


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator ``--offline`` talks to in this test (faults can be queued on its plan)."""
    emulator = Emulator()

    def client(**kwargs: Any) -> Any:
        return offline_async_http_client(emulator=emulator, **kwargs)

    monkeypatch.setattr("imgedit_core.emulator.offline_async_http_client", client)
    return emulator


@pytest.fixture(autouse=True)
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four product shots and a jobs file naming them, in the current folder."""
    monkeypatch.chdir(tmp_path)
    Path("shots").mkdir()
    for name in ("a", "b", "c", "d"):
        Path(f"shots/{name}.png").write_bytes(make_image(24, 24))
    write_jobs(*(job(name) for name in ("a", "b", "c", "d")))
    return tmp_path


def job(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": name,
        "image": f"shots/{name}.png",
        "prompt": f"Add a red ribbon to {name}",
    } | fields


def write_jobs(*jobs: dict[str, Any], path: str = "jobs.jsonl") -> None:
    Path(path).write_text("".join(json.dumps(j) + "\n" for j in jobs))


def batch(*args: object) -> Result:
    result = CliRunner().invoke(
        cli, ["batch", "jobs.jsonl", "--offline", "--out-dir", "out", *map(str, args)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result


def edits(emulator: Emulator) -> list[RequestRecord]:
    return [r for r in emulator.requests if r.method == "POST" and r.path == "/v1/images/edits"]


def journal() -> list[dict[str, Any]]:
    return [json.loads(line) for line in JOURNAL.read_text().splitlines()]


def json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- a first run -------------------------------------------------------------------------------


def test_a_batch_writes_every_output_and_prints_each_path(emulator: Emulator) -> None:
    result = batch()

    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == [f"out/{n}.png" for n in "abcd"]
    for name in "abcd":
        assert Path(f"out/{name}.png").read_bytes().startswith(b"\x89PNG")
    prompts = sorted(r.fields["prompt"] for r in edits(emulator))
    assert prompts == [f"Add a red ribbon to {n}" for n in "abcd"]
    lines = result.stderr.splitlines()
    assert any(
        line.startswith("imgedit: [") and " ok line 1 (a) -> out/a.png (" in line for line in lines
    )
    assert lines[-1].startswith("imgedit: 4 ok, 0 failed, 0 skipped (4 jobs) in ")
    events = [e["event"] for e in journal()]
    assert events.count("run") == 1
    assert events.count("sent") == events.count("done") == 4
    for entry in journal():
        if entry["event"] == "done":
            (out,) = entry["outputs"]
            assert out["sha256"] == sha(out["path"])
            assert out["bytes"] == Path(out["path"]).stat().st_size


def test_json_streams_one_line_per_job_with_the_documented_fields(emulator: Emulator) -> None:
    result = batch("--json", "--concurrency", "1")

    assert result.exit_code == 0, result.stderr
    lines = json_lines(result)
    assert [line["id"] for line in lines] == ["a", "b", "c", "d"]
    first = lines[0]
    assert set(first) == {
        "id", "line", "status", "outputs", "sha256", "error", "attempts", "seconds",
        "model", "provider", "detail",
    }  # fmt: skip
    assert first["line"] == 1
    assert first["status"] == "ok"
    assert first["outputs"] == ["out/a.png"]
    assert first["sha256"] == [sha("out/a.png")]
    assert first["error"] is None
    assert first["model"] == "gpt-image-2"
    assert first["provider"] == "cometapi-gpt-image"
    assert first["seconds"] >= 0


def test_a_failed_job_is_reported_the_batch_goes_on_and_exits_1(emulator: Emulator) -> None:
    emulator.plan.extend(["ok", "400:message=prompt refused by the safety system"])

    result = batch("--json", "--concurrency", "1")

    assert result.exit_code == 1
    by_id = {line["id"]: line for line in json_lines(result)}
    assert [by_id[n]["status"] for n in "abcd"] == ["ok", "failed", "ok", "ok"]
    error = by_id["b"]["error"]
    assert error["type"] == "BadRequestError"
    assert error["status"] == 400
    assert "prompt refused by the safety system" in error["message"]
    assert by_id["b"]["outputs"] == []
    assert not Path("out/b.png").exists()
    stderr = result.stderr
    assert "imgedit: 3 ok, 1 failed, 0 skipped (4 jobs)" in stderr
    assert (
        "imgedit: failed: line 2 (b): cometapi-gpt-image: prompt refused by the safety system"
        in stderr
    )
    assert "rerun the same command to retry the 1 failed job(s)" in stderr

    again = batch("--json")

    assert again.exit_code == 0, again.stderr
    assert [r.fields["prompt"] for r in edits(emulator)][-1] == "Add a red ribbon to b"
    assert len(edits(emulator)) == 5  # only the failed job was sent again
    assert {line["id"]: line["status"] for line in json_lines(again)} == {
        "a": "skipped", "b": "ok", "c": "skipped", "d": "skipped",
    }  # fmt: skip


def test_retries_apply_per_job_and_a_retried_failure_says_how_many_attempts(
    emulator: Emulator, retry_waits: list[float]
) -> None:
    emulator.plan.extend(["503", "ok", "503", "503"])

    result = batch("--json", "--concurrency", "1", "--max-retries", "1")

    assert result.exit_code == 1
    by_id = {line["id"]: line for line in json_lines(result)}
    assert by_id["a"]["status"] == "ok"  # 503, then answered on the retry
    assert by_id["b"]["status"] == "failed"
    assert by_id["b"]["attempts"] == 2
    assert by_id["b"]["error"]["status"] == 503
    assert len(retry_waits) == 2
    assert "imgedit: line 1 (a): HTTP 503 from cometapi-gpt-image; retrying in" in result.stderr


def test_a_refused_key_stops_new_jobs_and_exits_3(emulator: Emulator) -> None:
    emulator.plan.extend(["401"])

    result = batch("--concurrency", "1")

    assert result.exit_code == 3
    assert len(edits(emulator)) == 1  # the other three would fail the same way: not sent
    assert (
        "imgedit: stopped starting jobs: the key was refused (HTTP 401); 3 job(s) not started. "
        "Fix the key and rerun the same command" in result.stderr
    )
    assert "imgedit: 0 ok, 1 failed, 0 skipped (4 jobs) in " in result.stderr
    assert "; 3 not started\n" in result.stderr
    assert result.stderr.count("Invalid token") == 2  # the job's line, and the summary's

    again = batch()
    assert again.exit_code == 0, again.stderr
    assert len(edits(emulator)) == 5


def test_concurrency_is_bounded_and_really_overlaps(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = Emulator(latency=0.05)
    monkeypatch.setattr(
        "imgedit_core.emulator.offline_async_http_client",
        lambda **kw: offline_async_http_client(emulator=emulator, **kw),
    )
    write_jobs(*(job("a", id=f"j{i}", prompt=f"p{i}", output=f"{i}.png") for i in range(9)))

    result = batch("--concurrency", "3")

    assert result.exit_code == 0, result.stderr
    assert emulator.log.peak_concurrency() == 3


@pytest.mark.parametrize("rpm", ["600", "cometapi-gpt-image=600"])
def test_rpm_spaces_request_starts(emulator: Emulator, rpm: str) -> None:
    result = batch("--concurrency", "4", "--rpm", rpm)

    assert result.exit_code == 0, result.stderr
    starts = sorted(r.started for r in edits(emulator))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.09  # 600 a minute: one every 0.1 s


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "give requests a minute above 0"),
        ("fast", "give requests a minute above 0"),
        (
            "cometapi-gtp-image=5",
            "no provider is called 'cometapi-gtp-image'. Did you mean 'cometapi-gpt-image'?",
        ),
    ],
)
def test_bad_rpm_values_are_refused_before_anything_is_sent(
    emulator: Emulator, value: str, message: str
) -> None:
    result = batch("--rpm", value)

    assert result.exit_code == 2
    assert message in result.stderr
    assert edits(emulator) == []


# -- checking before paying -------------------------------------------------------------------


def test_a_bad_line_stops_the_batch_before_anything_is_sent(emulator: Emulator) -> None:
    write_jobs(
        job("a"), job("b", quality="ultra"), job("c", image="shots/nope.png"), job("d", sise="x")
    )

    result = batch()

    assert result.exit_code == 2
    # Problems reading lines and problems checking jobs come in one message.
    assert "jobs.jsonl: 3 problems; nothing was sent:" in result.stderr
    assert "line 4: unknown key 'sise'; did you mean 'size'?" in result.stderr
    assert "line 2: model 'gpt-image-2' does not accept quality='ultra'" in result.stderr
    assert "line 3: image file not found: " in result.stderr
    assert edits(emulator) == []
    assert not Path("out").exists()


def test_dry_run_checks_and_plans_everything_and_sends_nothing(emulator: Emulator) -> None:
    result = batch("--dry-run", "--option", "quality=low")

    assert result.exit_code == 0, result.stderr
    assert edits(emulator) == []
    assert not Path("out").exists()  # not even the journal
    assert "send  line 1 (a): gpt-image-2 via cometapi-gpt-image [quality=low] -> out/a.png" in (
        result.stdout
    )
    assert "      prompt: Add a red ribbon to a" in result.stdout
    assert "dry run: 4 to send, 0 to skip" in result.stderr

    batch("--concurrency", "1")
    Path("out/b.png").unlink()
    again = batch("--dry-run", "--json")

    assert again.exit_code == 0
    statuses = {line["id"]: line["status"] for line in json_lines(again)}
    assert statuses == {"a": "skipped", "b": "skipped", "c": "skipped", "d": "skipped"}
    assert "--redo-missing" in json_lines(again)[1]["detail"]
    assert len(edits(emulator)) == 4


def test_dry_run_says_a_real_run_would_stop_for_a_missing_key(emulator: Emulator) -> None:
    result = CliRunner().invoke(cli, ["batch", "jobs.jsonl", "--out-dir", "out", "--dry-run"])

    assert result.exit_code == 0
    assert "a real run would stop here: no API key for provider cometapi-gpt-image" in (
        result.stderr
    )


def test_an_existing_output_the_batch_did_not_write_is_refused_without_force(
    emulator: Emulator,
) -> None:
    Path("out").mkdir()
    Path("out/c.png").write_bytes(b"the photographer's own file")

    refused = batch()

    assert refused.exit_code == 2
    assert "'out/c.png' already exists" in refused.stderr
    assert "has no record of writing it" in refused.stderr
    assert edits(emulator) == []
    assert Path("out/c.png").read_bytes() == b"the photographer's own file"

    forced = batch("--force")

    assert forced.exit_code == 0, forced.stderr
    assert Path("out/c.png").read_bytes().startswith(b"\x89PNG")


def test_a_reworded_job_replaces_the_file_the_batch_itself_wrote(emulator: Emulator) -> None:
    batch()
    before = sha("out/a.png")
    write_jobs(job("a", prompt="Add a blue ribbon to a"), job("b"), job("c"), job("d"))

    result = batch("--json")

    assert result.exit_code == 0, result.stderr
    statuses = {line["id"]: line["status"] for line in json_lines(result)}
    assert statuses == {"a": "ok", "b": "skipped", "c": "skipped", "d": "skipped"}
    assert sha("out/a.png") != before
    assert edits(emulator)[-1].fields["prompt"] == "Add a blue ribbon to a"
    assert (
        "line 1 (a) changed since this batch wrote out/a.png; the new result will replace it"
        in (result.stderr)
    )


# -- reruns: the journal's recovery cases -----------------------------------------------------


def test_a_rerun_skips_finished_jobs_and_sends_nothing(emulator: Emulator) -> None:
    batch()
    shas = {n: sha(f"out/{n}.png") for n in "abcd"}

    again = batch("--json")

    assert again.exit_code == 0
    assert len(edits(emulator)) == 4
    assert again.stdout.count('"status": "skipped"') == 4
    assert {n: sha(f"out/{n}.png") for n in "abcd"} == shas
    assert "imgedit: 0 ok, 0 failed, 4 skipped (4 jobs)" in again.stderr


def test_reordered_lines_are_the_same_jobs(emulator: Emulator) -> None:
    batch()
    write_jobs(job("d"), job("c"), job("b"), job("a"))

    again = batch()

    assert again.exit_code == 0
    assert len(edits(emulator)) == 4


def test_a_crash_between_journal_and_rename_is_finished_on_rerun(emulator: Emulator) -> None:
    batch()
    data = Path("out/b.png").read_bytes()
    Path("out/b.png").rename("out/.b.png.imgedit-partial")  # as a kill -9 leaves it

    again = batch("--json")

    assert again.exit_code == 0
    assert len(edits(emulator)) == 4  # nothing paid for again
    assert Path("out/b.png").read_bytes() == data
    assert not Path("out/.b.png.imgedit-partial").exists()
    line = next(line for line in json_lines(again) if line["id"] == "b")
    assert (line["status"], line["detail"]) == ("skipped", "recovered after an interruption")
    assert "finished saving 1 output(s) an interrupted run had paid for" in again.stderr


def test_stale_partials_are_deleted_before_anything_else(emulator: Emulator) -> None:
    Path("out").mkdir()
    Path("out/.a.png.imgedit-partial").write_bytes(b"half an image from a run never recorded")

    result = batch()

    assert result.exit_code == 0
    assert not Path("out/.a.png.imgedit-partial").exists()
    assert Path("out/a.png").read_bytes().startswith(b"\x89PNG")
    batch()
    Path("out/.c.png.imgedit-partial").write_bytes(b"junk")  # next to a finished output
    batch()
    assert not list(Path("out").glob(".*.imgedit-partial"))


def test_an_output_changed_since_is_kept_and_reported(emulator: Emulator) -> None:
    batch()
    Path("out/c.png").write_bytes(b"retouched by hand")

    again = batch("--redo-missing")

    assert again.exit_code == 0
    assert len(edits(emulator)) == 4
    assert Path("out/c.png").read_bytes() == b"retouched by hand"
    assert (
        "imgedit: note: line 3 (c): 'out/c.png' changed since this batch wrote it; it is kept"
        in again.stderr
    )


def test_a_deleted_output_is_redone_only_when_asked(emulator: Emulator) -> None:
    batch()
    Path("out/d.png").unlink()

    again = batch()

    assert again.exit_code == 0
    assert len(edits(emulator)) == 4
    assert not Path("out/d.png").exists()
    assert "'out/d.png' was written by this batch and has since been deleted; rerun with " in (
        again.stderr
    )

    redone = batch("--redo-missing")

    assert redone.exit_code == 0
    assert len(edits(emulator)) == 5
    assert Path("out/d.png").exists()


def test_jobs_in_flight_when_a_run_stopped_are_named_and_sent_again(emulator: Emulator) -> None:
    batch()
    kept = [e for e in journal() if not (e["event"] == "done" and e["id"] in ("b", "c"))]
    JOURNAL.write_text("".join(json.dumps(e) + "\n" for e in kept))  # b, c: sent, never done
    Path("out/b.png").unlink()
    Path("out/c.png").unlink()

    again = batch()

    assert again.exit_code == 0
    assert len(edits(emulator)) == 6
    assert (
        "imgedit: 2 job(s) were in flight when the last run stopped (line 2 (b), line 3 (c)): "
        "they are sent again, and the provider may bill them twice" in again.stderr
    )


def test_a_journal_line_cut_short_by_a_crash_is_dropped(emulator: Emulator) -> None:
    batch()
    with JOURNAL.open("a") as fh:
        fh.write('{"event":"done","job":"')  # the write a kill interrupted

    again = batch()

    assert again.exit_code == 0
    assert len(edits(emulator)) == 4
    assert all(line.endswith("}") for line in JOURNAL.read_text().splitlines())


def test_a_file_that_is_not_a_journal_is_refused(emulator: Emulator) -> None:
    Path("notes.txt").write_text("shopping list\n")

    result = batch("--journal", "notes.txt")

    assert result.exit_code == 2
    assert "'notes.txt' is not an imgedit batch journal (line 1 is not a journal entry)" in (
        result.stderr
    )
    assert edits(emulator) == []


def test_a_second_batch_on_the_same_journal_is_refused(emulator: Emulator) -> None:
    batch()
    write_jobs(job("a", prompt="Something new"), job("b"), job("c"), job("d"))

    with Journal.open(JOURNAL.absolute()):  # as a running batch holds it
        result = batch()

    assert result.exit_code == 2
    assert "another imgedit batch" in result.stderr
    assert "is running with the journal" in result.stderr
    assert len(edits(emulator)) == 4


# -- the CSV form, defaults and quiet --------------------------------------------------------


def test_a_csv_batch_with_a_shared_prompt_and_option(emulator: Emulator) -> None:
    Path("jobs.csv").write_text("image,id,size\nshots/a.png,first,\nshots/b.png,second,1024x1536\n")

    result = CliRunner().invoke(
        cli,
        [
            "batch", "jobs.csv", "--offline", "--out-dir", "out", "-p", "Add a ribbon",
            "--option", "size=1024x1024", "--output", "{id}.{ext}", "--option", "quality=low",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["out/first.png", "out/second.png"]
    fields = sorted(
        (r.fields["prompt"], r.fields["size"], r.fields["quality"]) for r in edits(emulator)
    )
    assert fields == [("Add a ribbon", "1024x1024", "low"), ("Add a ribbon", "1024x1536", "low")]
    assert Path("out/.imgedit-batch.jobs.jsonl").exists()  # named after the JOBS file


def test_quiet_prints_only_errors(emulator: Emulator) -> None:
    emulator.plan.extend(["400"])

    result = batch("-q", "--concurrency", "1")

    assert result.exit_code == 1
    assert all("failed" in line or "rerun" in line for line in result.stderr.splitlines())
    assert "ok line" not in result.stderr


def test_batch_help_loads_nothing_heavy() -> None:
    from test_startup import heavy_among, imported_modules

    modules = imported_modules(
        "from imgedit_core.cli.main import main; import sys; "
        "sys.argv = ['imgedit', 'batch', '--help']; main()"
    )
    assert "imgedit_core.cli.batch" in modules
    assert heavy_among(modules) == []

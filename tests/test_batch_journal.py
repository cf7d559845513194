"""The journal and the write order that make a batch crash-safe, piece by piece."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from imgedit_core.batch.commit import commit
from imgedit_core.batch.journal import (
    Journal,
    JournalError,
    OutputRecord,
    default_journal_path,
    read_journal,
)
from imgedit_core.errors import OutputError


def test_entries_are_appended_whole_and_read_back_as_job_states(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    out = {"path": str(tmp_path / "a.png"), "sha256": "ab", "bytes": 2, "mtime_ns": 5}
    with Journal.open(path) as journal:
        journal.append("run", pid=os.getpid())
        journal.append("sent", job="A", line=1, id=None)
        journal.append("done", job="A", line=1, id=None, outputs=[out])
        journal.append("sent", job="B", line=2, id="b")
        journal.append("failed", job="B", line=2, id="b", error={"type": "ServerError"})
        journal.append("sent", job="C", line=3, id=None)
        journal.append("sent", job="B", line=2, id="b")

    state = read_journal(path)

    assert state.runs == 1
    assert state.last_pid == os.getpid()
    assert state.jobs["A"].done is not None
    assert state.jobs["A"].outputs == [OutputRecord(tmp_path / "a.png", "ab", 2, 5)]
    assert state.written == {tmp_path / "a.png": "ab"}
    assert state.jobs["B"].done is None
    assert state.jobs["B"].in_flight  # failed once, then sent again and never answered
    assert state.jobs["C"].in_flight
    for line in path.read_text().splitlines():
        assert json.loads(line)["event"] in ("run", "sent", "done", "failed")


def test_a_later_failure_undoes_a_done_a_later_done_undoes_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.append("done", job="A", outputs=[])
        journal.append("failed", job="A", error={})
        journal.append("failed", job="B", error={})
        journal.append("done", job="B", outputs=[])

    state = read_journal(path)

    assert state.jobs["A"].done is None
    assert state.jobs["A"].failed is not None
    assert state.jobs["B"].done is not None


def test_a_line_cut_short_by_a_crash_is_ignored_and_dropped_on_open(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"event":"run","pid":1}\n{"event":"done","job":"A","outp')

    assert read_journal(path).jobs == {}
    with Journal.open(path) as journal:
        journal.append("sent", job="B")

    first, second = path.read_text().splitlines()
    assert first == '{"event":"run","pid":1}'
    assert json.loads(second)["job"] == "B"


def test_a_damaged_middle_line_or_a_foreign_file_is_refused(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text('{"event":"run"}\nnot json\n{"event":"run"}\n')
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"name": "a shopping list"}\n')

    with pytest.raises(JournalError, match="damaged at line 2"):
        read_journal(damaged)
    with pytest.raises(JournalError, match="is not an imgedit batch journal"):
        read_journal(foreign)
    assert read_journal(tmp_path / "absent.jsonl").jobs == {}


def test_only_one_batch_holds_a_journal_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as first:
        first.append("run", pid=4242)
        with pytest.raises(JournalError, match=r"another imgedit batch \(process 4242\)"):
            Journal.open(path)
    with Journal.open(path):  # released on close
        pass


def test_the_journal_sits_beside_the_outputs(tmp_path: Path) -> None:
    jobs = tmp_path / "cat" / "spring.jsonl"
    outputs = [tmp_path / "res/a/1.png", tmp_path / "res/b/2.png"]

    assert default_journal_path(jobs, outputs, None) == tmp_path / "res/.imgedit-batch.spring.jsonl"
    assert default_journal_path(jobs, outputs, tmp_path / "o") == (
        tmp_path / "o/.imgedit-batch.spring.jsonl"
    )


def test_commit_writes_partials_then_records_then_moves(tmp_path: Path) -> None:
    targets = [tmp_path / "out/a.png", tmp_path / "out/b.png"]
    seen: list[tuple[list[str], list[bool]]] = []

    def record(outputs: list[OutputRecord]) -> None:  # what is on disk when the entry is made
        names = sorted(p.name for p in (tmp_path / "out").iterdir())
        seen.append((names, [o.path.exists() for o in outputs]))

    records = commit(targets, [b"one", b"two"], record)

    assert seen == [([".a.png.imgedit-partial", ".b.png.imgedit-partial"], [False, False])]
    assert [p.read_bytes() for p in targets] == [b"one", b"two"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert records[0].sha256 == "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed"
    assert records[0].mtime_ns == targets[0].stat().st_mtime_ns


def test_commit_leaves_no_partial_when_recording_fails(tmp_path: Path) -> None:
    def record(outputs: list[OutputRecord]) -> None:
        raise JournalError("disk full")

    with pytest.raises(JournalError):
        commit([tmp_path / "a.png"], [b"data"], record)

    assert list(tmp_path.iterdir()) == []


def test_commit_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "a.png"

    def someone_else_writes(outputs: list[OutputRecord]) -> None:
        target.write_bytes(b"theirs")

    with pytest.raises(OutputError, match="appeared while the batch ran"):
        commit([target], [b"ours"], someone_else_writes)

    assert target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    commit([target], [b"ours"], lambda outputs: None, replace={target})
    assert target.read_bytes() == b"ours"

"""Planning a batch: defaults fill the jobs, every job is checked against its model, every
output is named, and clashes are found, all before anything is sent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgedit_core import AsyncClient
from imgedit_core.batch.jobs import Job, JobsError
from imgedit_core.batch.plan import Defaults, PlannedJob, plan_jobs
from imgedit_core.testing import make_image


@pytest.fixture
def client() -> AsyncClient:
    return AsyncClient(offline=True)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "shots"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.png").write_bytes(make_image(32, 32))
    return folder


def plan(
    client: AsyncClient, tmp_path: Path, jobs: list[Job], **defaults: object
) -> list[PlannedJob]:
    return plan_jobs(
        client,
        jobs,
        Defaults(**defaults),  # type: ignore[arg-type]
        source="jobs.jsonl",
        jobs_dir=tmp_path,
    )


def test_defaults_fill_what_a_job_leaves_out_and_the_job_wins(
    client: AsyncClient, tmp_path: Path, shots: Path
) -> None:
    jobs = [
        Job(line=1, images=(shots / "a.png",)),
        Job(
            line=2,
            images=(shots / "b.png",),
            prompt="Own prompt",
            model="gpt-image-1",
            options={"quality": "high"},
        ),
    ]

    first, second = plan(
        client,
        tmp_path,
        jobs,
        prompt="Shared prompt",
        options={"quality": "low", "size": "1024x1024"},
        out_dir=tmp_path / "out",
    )

    assert (first.prompt, first.model_name, dict(first.options)) == (
        "Shared prompt",
        "gpt-image-2",
        {"quality": "low", "size": "1024x1024"},
    )
    assert (second.prompt, second.model_name, dict(second.options)) == (
        "Own prompt",
        "gpt-image-1",
        {"quality": "high", "size": "1024x1024"},
    )
    assert first.outputs == (tmp_path / "out/a.png",)
    assert second.outputs == (tmp_path / "out/b.png",)


def test_output_templates_and_their_placeholders(
    client: AsyncClient, tmp_path: Path, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    jobs = [
        Job(line=3, id="sku-1", images=(shots / "a.png",), options={"n": 2}),
        Job(line=4, images=(shots / "b.png",), options={"output_format": "jpeg"}),
        Job(line=5, images=(shots / "c.png",), output="own/{stem}.webp"),
    ]

    planned = plan(client, tmp_path, jobs, prompt="x", output="res/{id}-{line:03d}-{stem}.{ext}")

    assert [p.outputs for p in planned] == [
        (
            tmp_path / "res/sku-1-003-a-1.png",  # n=2 and no {index}: numbered
            tmp_path / "res/sku-1-003-a-2.png",
        ),
        (tmp_path / "res/4-004-b.jpg",),  # no id: {id} is the line number
        (tmp_path / "own/c.webp",),  # a job's own name, from the jobs folder
    ]
    assert planned[2].options["output_format"] == "webp"  # asked for by the name


def test_index_placement_and_a_jobs_output_inside_out_dir(
    client: AsyncClient, tmp_path: Path, shots: Path
) -> None:
    jobs = [
        Job(line=1, images=(shots / "a.png",), options={"n": 2}, output="sets/{index}/{stem}.png")
    ]

    (planned,) = plan(client, tmp_path, jobs, prompt="x", out_dir=tmp_path / "out")

    assert planned.outputs == (tmp_path / "out/sets/1/a.png", tmp_path / "out/sets/2/a.png")


def test_every_job_is_checked_and_every_problem_reported_with_its_line(
    client: AsyncClient, tmp_path: Path, shots: Path
) -> None:
    jobs = [
        Job(line=1, images=(shots / "missing.png",), prompt="x"),
        Job(line=2, images=(shots / "a.png",), prompt="x", model="gpt-image-3"),
        Job(line=3, images=(shots / "a.png",), prompt="x", options={"quality": "ultra"}),
        Job(line=4, images=(shots / "a.png",)),
        Job(line=5, images=(shots / "b.png",), prompt="x", output="{name}.png"),
        Job(
            line=6,
            images=(shots / "b.png",),
            prompt="x",
            output="b.jpg",
            options={"output_format": "png"},
        ),
        Job(line=7, images=(shots / "c.png",), prompt="x", extra={"watermark": False}),
    ]

    with pytest.raises(JobsError) as caught:
        plan(client, tmp_path, jobs, out_dir=tmp_path / "out")

    message = str(caught.value)
    assert "7 problems; nothing was sent" in message
    for part in (
        "line 1: image file not found",
        "line 2: unknown model 'gpt-image-3'. Did you mean: gpt-image-2",
        "line 3: model 'gpt-image-2' does not accept quality='ultra'",
        'line 4: no prompt: give the job a "prompt", or pass --prompt',
        "line 5: unknown placeholder {name}",
        "line 6: output_format=png contradicts the output name 'b.jpg'",
        "line 7: model 'gpt-image-2' does not accept watermark=False",
    ):
        assert part in message, part


def test_two_jobs_writing_one_file_or_a_job_overwriting_an_input_are_refused(
    client: AsyncClient, tmp_path: Path, shots: Path
) -> None:
    jobs = [
        Job(line=1, images=(shots / "a.png",), prompt="one"),
        Job(line=2, images=(shots / "a.png",), prompt="two"),
        Job(line=3, images=(shots / "b.png",), prompt="x", output="shots/a.png"),
    ]

    with pytest.raises(JobsError) as caught:
        plan(client, tmp_path, jobs, out_dir=None, output=str(tmp_path / "out/{stem}.{ext}"))

    message = str(caught.value)
    assert f"line 2: writes '{tmp_path / 'out/a.png'}', as line 1 does" in message
    assert "put {id} or {line} in --output" in message
    assert f"line 3: the output '{shots / 'a.png'}' is line 1's input image" in message


def test_the_default_name_next_to_the_inputs_is_refused_with_a_way_out(
    client: AsyncClient, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shots)
    jobs = [Job(line=1, images=(shots / "a.png",), prompt="x")]

    with pytest.raises(JobsError, match=r"is its own input image; write the results elsewhere"):
        plan(client, shots, jobs)


def fingerprints(client: AsyncClient, tmp_path: Path, jobs: list[Job]) -> dict[int, str]:
    planned = plan(client, tmp_path, jobs, out_dir=tmp_path / "out", output="{id}.{ext}")
    return {p.job.line: p.fingerprint for p in planned}


def test_a_jobs_identity_is_what_makes_its_result_not_where_it_sits(
    client: AsyncClient, tmp_path: Path, shots: Path
) -> None:
    a = Job(line=1, id="a", images=(shots / "a.png",), prompt="Add a hat")
    b = Job(line=2, id="b", images=(shots / "b.png",), prompt="Add a scarf")
    base = fingerprints(client, tmp_path, [a, b])

    moved = fingerprints(
        client,
        tmp_path,
        [
            Job(line=1, id="b", images=b.images, prompt=b.prompt),
            Job(line=2, id="a", images=a.images, prompt=a.prompt),
        ],
    )
    assert sorted(moved.values()) == sorted(base.values())  # reordered lines: the same jobs

    reworded = fingerprints(
        client, tmp_path, [Job(line=1, id="a", images=a.images, prompt="Add a cap"), b]
    )
    assert reworded[1] != base[1]
    assert reworded[2] == base[2]

    stat = (shots / "a.png").stat()
    os.utime(shots / "a.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    retouched = fingerprints(client, tmp_path, [a, b])
    assert retouched[1] != base[1]
    assert retouched[2] == base[2]

    sized = fingerprints(
        client,
        tmp_path,
        [Job(line=1, id="a", images=a.images, prompt=a.prompt, options={"size": "1024x1536"}), b],
    )
    assert sized[1] != retouched[1]


def test_an_output_name_too_long_for_its_temporary_file_is_refused_before_sending(
    client: AsyncClient, tmp_path: Path, shots: Path
) -> None:
    jobs = [Job(line=1, images=(shots / "a.png",), prompt="x", output="n" * 245 + ".png")]

    with pytest.raises(JobsError, match="is too long to be written safely"):
        plan(client, tmp_path, jobs, out_dir=tmp_path / "out")

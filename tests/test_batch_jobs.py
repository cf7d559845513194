"""Reading JOBS files: JSONL and CSV, what each line may say, and every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgedit_core.batch.jobs import Job, JobsError, read_jobs
from imgedit_core.errors import UserError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_jsonl_lines_become_jobs_with_paths_from_the_jobs_folder(tmp_path: Path) -> None:
    jobs = write(
        tmp_path,
        "jobs.jsonl",
        "# a comment, then a blank line\n\n"
        '{"id": "sku-1", "image": "shots/a.png", "prompt": "Add a hat", "size": "1024x1024"}\n'
        '{"images": ["a.png", "/abs/b.png"], "mask": "m.png", "model": "gpt-image-1", '
        '"n": 2, "output": "x/{index}.png", "options": {"quality": "low", "watermark": false}}\n',
    )

    first, second = read_jobs(jobs)

    assert first == Job(
        line=3,
        id="sku-1",
        images=(tmp_path / "shots/a.png",),
        prompt="Add a hat",
        options={"size": "1024x1024"},
    )
    assert second.line == 4
    assert second.images == (tmp_path / "a.png", Path("/abs/b.png"))
    assert second.mask == tmp_path / "m.png"
    assert second.model == "gpt-image-1"
    assert second.output == "x/{index}.png"
    assert second.options == {"n": 2, "quality": "low"}
    assert second.extra == {"watermark": False}
    assert first.label == "line 3 (sku-1)"
    assert second.label == "line 4"


def test_every_bad_jsonl_line_is_reported_with_its_number(tmp_path: Path) -> None:
    jobs = write(
        tmp_path,
        "jobs.jsonl",
        '{"image": "a.png", "promt": "x"}\n'
        "{not json}\n"
        "[1, 2]\n"
        '{"prompt": "no image"}\n'
        '{"image": "a.png", "images": ["b.png"]}\n'
        '{"image": "a.png", "n": "two", "size": 1024}\n'
        '{"image": "a.png", "quality": "low", "options": {"quality": "high"}}\n'
        '{"image": "a.png", "options": "watermark=false"}\n'
        '{"image": "a.png", "id": "x"}\n'
        '{"image": "b.png", "id": "x", "prompt": "  "}\n',
    )

    with pytest.raises(JobsError) as caught:
        read_jobs(jobs)

    message = str(caught.value)
    assert message.startswith(f"{jobs}: ")
    assert "nothing was sent" in message
    expected = [
        "line 1: unknown key 'promt'; did you mean 'prompt'?",
        "line 2: not valid JSON",
        "line 3: a job is a JSON object ({...}), not list",
        'line 4: no image: give "image": "PATH" or "images": ["PATH", ...]',
        "line 5: give 'image' or 'images', not both",
        "line 6: 'n' must be a whole number, not \"two\"",
        "line 6: 'size' must be text, not 1024",
        "line 7: option 'quality' is given twice (also inside 'options')",
        "line 8: 'options' must be an object",
        "line 10: id 'x' is already used on line 9",
        "line 10: 'prompt' is empty",
    ]
    for part in expected:
        assert part in message, part
    assert caught.value.exit_code == 2


def test_csv_rows_with_images_lists_options_and_empty_cells(tmp_path: Path) -> None:
    jobs = write(
        tmp_path,
        "jobs.csv",
        "id,images,prompt,n,size,watermark,output_compression\n"
        'a,one.png; two.png,"Add a hat, blue",2,,false,\n'
        "\n"
        "b,three.png,,,1024x1024,,80\n",
    )

    first, second = read_jobs(jobs)

    assert first.images == (tmp_path / "one.png", tmp_path / "two.png")
    assert first.prompt == "Add a hat, blue"
    assert first.options == {"n": 2}  # the empty size cell is "not given"
    assert first.extra == {"watermark": False}  # read as --option reads it
    assert second.line == 4
    assert second.prompt is None  # --prompt fills it
    assert second.options == {"size": "1024x1024", "output_compression": 80}
    assert second.extra == {}


def test_csv_problems_name_their_lines(tmp_path: Path) -> None:
    jobs = write(
        tmp_path,
        "jobs.csv",
        "image,prompt,n\na.png,x,two\nb.png,y,1,extra-cell\n",
    )

    with pytest.raises(JobsError) as caught:
        read_jobs(jobs)

    message = str(caught.value)
    assert "line 2: 'n' must be a whole number, not 'two'" in message
    assert "line 3: 4 cells but the header (line 1) names 3 columns" in message


def test_a_csv_column_close_to_a_job_field_is_a_typo_not_a_provider_option(
    tmp_path: Path,
) -> None:
    jobs = write(tmp_path, "jobs.csv", "image,promtp\na.png,x\n")

    with pytest.raises(JobsError, match=r"line 1: unknown column 'promtp'; did you mean 'prompt'"):
        read_jobs(jobs)


def test_a_csv_without_an_image_column_is_refused(tmp_path: Path) -> None:
    jobs = write(tmp_path, "jobs.csv", "prompt\nx\n")

    with pytest.raises(JobsError, match="no 'image' or 'images' column"):
        read_jobs(jobs)


def test_the_format_comes_from_the_suffix_unless_given(tmp_path: Path) -> None:
    jobs = write(tmp_path, "jobs.txt", '{"image": "a.png"}\n')

    with pytest.raises(UserError, match=r"name it \.jsonl or \.csv, or pass --format"):
        read_jobs(jobs)
    assert read_jobs(jobs, "jsonl")[0].images == (tmp_path / "a.png",)
    assert read_jobs(write(tmp_path, "j.ndjson", '{"image": "a.png"}\n'))[0].line == 1


def test_an_empty_or_missing_jobs_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="holds no jobs"):
        read_jobs(write(tmp_path, "jobs.jsonl", "# nothing yet\n\n"))
    with pytest.raises(UserError, match="jobs file not found"):
        read_jobs(tmp_path / "absent.jsonl")


def test_a_message_shared_by_many_lines_is_said_once(tmp_path: Path) -> None:
    lines = "".join('{"image": "a.png", "size": 5}\n' for _ in range(8))

    with pytest.raises(JobsError) as caught:
        read_jobs(write(tmp_path, "jobs.jsonl", lines))

    message = str(caught.value)
    assert "8 problems" in message
    assert message.count("'size' must be text") == 1
    assert "lines 1, 2, 3, 4, 5 and 3 more: 'size' must be text, not 5" in message


def test_a_csv_image_cell_may_hold_several_paths_too(tmp_path: Path) -> None:
    jobs = write(tmp_path, "jobs.csv", "image,prompt\nmug.png; lamp.png,x\nboat.png,y\n")

    first, second = read_jobs(jobs)

    assert first.images == (tmp_path / "mug.png", tmp_path / "lamp.png")
    assert second.images == (tmp_path / "boat.png",)

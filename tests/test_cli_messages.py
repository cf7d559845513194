"""What the CLI says around an edit: progress with -v, the offline notice, where a bad default
model came from, and key names that cannot be stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from imgedit_core.cli.main import cli

PROMPT = "Add a small red ribbon to the paper boat"
OFFLINE_NOTICE = "offline: the built-in emulator answers"


def invoke(*args: object, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def test_verbose_says_where_the_edit_goes_and_how_long_it_took(png_path: Path) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "--offline", "-v", "-o", "out.png")

    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(OFFLINE_NOTICE in line for line in lines)
    assert any(
        "sending the edit to cometapi-gpt-image: POST https://api.cometapi.com/v1/images/edits"
        " (model gpt-image-2)" in line
        for line in lines
    )
    assert any("cometapi-gpt-image answered in" in line for line in lines)
    assert Path("out.png").read_bytes().startswith(b"\x89PNG")


def test_without_verbose_only_the_offline_notice_is_printed(png_path: Path) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "--offline", "-o", "out.png")

    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [f"imgedit: {line}" for line in _notice_lines()]
    assert result.stdout == "out.png\n"


def test_a_refused_output_does_not_announce_offline_mode(png_path: Path) -> None:
    Path("out.png").write_bytes(b"keep")

    result = invoke("edit", png_path, "-p", PROMPT, "--offline", "-o", "out.png")

    assert result.exit_code == 2
    assert OFFLINE_NOTICE not in result.stderr
    assert "already exists" in result.stderr
    assert Path("out.png").read_bytes() == b"keep"


def test_dry_run_says_the_emulator_would_answer(png_path: Path) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "--offline", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert "offline: the built-in emulator would answer" in result.stdout
    assert not list(Path.cwd().glob("*-edited.*"))


def test_an_unknown_default_model_from_config_names_the_file(png_path: Path) -> None:
    Path("imgedit.toml").write_text('[defaults]\nmodel = "gpt-image-3"\n')

    result = invoke("edit", png_path, "-p", PROMPT, "--dry-run")

    assert result.exit_code == 2
    assert "imgedit.toml: defaults.model: unknown model 'gpt-image-3'" in result.stderr
    assert "gpt-image-2" in result.stderr  # the suggestion survives


def test_an_unknown_default_model_from_the_environment_names_the_variable(
    png_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMGEDIT_MODEL", "gpt-image-3")

    result = invoke("edit", png_path, "-p", PROMPT, "--dry-run")

    assert result.exit_code == 2
    assert "IMGEDIT_MODEL='gpt-image-3': unknown model 'gpt-image-3'" in result.stderr


@pytest.mark.parametrize("name", ["openai", "my-gateway", "Comet_Key"])
def test_a_key_name_that_is_neither_a_provider_nor_a_variable_is_refused(name: str) -> None:
    result = invoke("keys", "set", name, input="sk-never-stored-0123456789\n")

    assert result.exit_code == 2
    assert "is neither a provider" in result.stderr
    assert "cometapi-gpt-image" in result.stderr
    assert "sk-never-stored" not in result.output
    assert invoke("keys", "list").stdout == ""


def test_a_provider_name_stores_under_its_key_variable() -> None:
    result = invoke("keys", "set", "cometapi-qwen-image-edit", input="sk-stored-0123456789\n")

    assert result.exit_code == 0, result.stderr
    assert invoke("keys", "list").stdout.split() == ["COMETAPI_KEY", "file"]


def _notice_lines() -> list[str]:
    return [
        "offline: the built-in emulator answers (a visible stand-in edit, not a model); "
        "nothing is sent over the network"
    ]

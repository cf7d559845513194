"""``imgedit models``, ``imgedit plugins`` and ``imgedit --version``: what a user reads first."""

from __future__ import annotations

import json
from importlib import metadata

import pytest
from click.testing import CliRunner, Result

import imgedit_core
from imgedit_core import plugins as plugins_module
from imgedit_core.cli.main import cli

GPT = "cometapi-gpt-image"
QWEN = "cometapi-qwen-image-edit"
MODELS = {
    "gpt-image-2": GPT,
    "gpt-image-1.5": GPT,
    "gpt-image-1": GPT,
    "gpt-image-1-mini": GPT,
    "qwen-image-edit": QWEN,
    "qwen-image-edit-plus": QWEN,
    "qwen-image-edit-max": QWEN,
}


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def table_rows(text: str) -> list[list[str]]:
    """The cells of a rendered table, below its header and rule lines."""
    lines = text.strip().splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}, f"no rule under the header:\n{text}"
    return [line.split() for line in lines[2:]]


def help_commands(text: str) -> list[str]:
    """The command names listed under ``Commands:`` in ``--help``."""
    _, _, section = text.partition("\nCommands:\n")
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


class _BrokenEntryPoint:
    name = "broken-plugin"
    value = "imgedit_broken_plugin.plugin"
    dist = None

    def load(self) -> object:
        raise ImportError("No module named 'imgedit_broken_plugin'")


@pytest.fixture
def broken_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    real = plugins_module._entry_points
    monkeypatch.setattr(plugins_module, "_entry_points", lambda: [*real(), _BrokenEntryPoint()])


# --- models ---------------------------------------------------------------------------------


def test_models_table_lists_every_model_with_its_provider() -> None:
    result = invoke("models")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.split()[:2] == ["MODEL", "PROVIDER"]
    listed = {row[0]: row[1] for row in table_rows(result.stdout)}
    assert listed == MODELS
    assert result.stderr == ""


def test_models_json_has_capabilities() -> None:
    result = invoke("models", "--json")

    assert result.exit_code == 0, result.stderr
    entries = {entry["model"]: entry for entry in json.loads(result.stdout)}
    assert {name: e["provider"] for name, e in entries.items()} == MODELS
    gpt = entries["gpt-image-2"]["capabilities"]
    assert (gpt["max_n"], gpt["mask"], gpt["response_formats"]) == (10, True, [])
    assert gpt["b64_output"] is True
    assert gpt["url_output"] is False
    qwen = entries["qwen-image-edit"]["capabilities"]
    assert (qwen["max_n"], qwen["mask"]) == (1, False)
    assert sorted(qwen["response_formats"]) == ["b64_json", "url"]
    assert qwen["url_output"] is True
    assert entries["qwen-image-edit-plus"]["capabilities"]["max_n"] == 6


def test_models_with_no_plugin_loaded_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEDIT_LOAD_PLUGINS", "")

    result = invoke("models")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no provider plugin loaded" in result.stderr.lower()
    assert "imgedit plugins" in result.stderr

    as_json = invoke("models", "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == []


def test_plugins_with_none_loaded_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEDIT_LOAD_PLUGINS", "")

    result = invoke("plugins")

    assert result.exit_code == 0
    assert "no plugins loaded" in result.output.lower()
    assert GPT not in result.output


def test_load_plugins_env_selects_one_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEDIT_LOAD_PLUGINS", QWEN)

    result = invoke("models")

    assert result.exit_code == 0, result.stderr
    assert {row[0] for row in table_rows(result.stdout)} == {
        m for m, p in MODELS.items() if p == QWEN
    }


# --- plugins --------------------------------------------------------------------------------


def test_plugins_lists_both_built_ins_ok_with_version() -> None:
    version = metadata.version("imgedit")
    result = invoke("plugins")

    assert result.exit_code == 0, result.stderr
    rows = {row[0]: row for row in table_rows(result.stdout)}
    assert set(rows) == {GPT, QWEN}
    for name in (GPT, QWEN):
        assert rows[name] == [name, version, name, "ok"]


def test_plugins_json() -> None:
    result = invoke("plugins", "--json")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["failures"] == []
    by_name = {p["name"]: p for p in data["plugins"]}
    assert set(by_name) == {GPT, QWEN}
    assert by_name[GPT]["providers"] == [GPT]
    assert by_name[QWEN]["providers"] == [QWEN]
    assert by_name[GPT]["module"] == "imgedit_cometapi_gpt.plugin"
    assert by_name[GPT]["version"] == metadata.version("imgedit")


@pytest.mark.usefixtures("broken_plugin")
def test_a_broken_plugin_shows_as_failed_and_the_others_still_load() -> None:
    result = invoke("plugins")

    assert result.exit_code == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.strip().splitlines()[2:]}
    assert set(lines) == {GPT, QWEN, "broken-plugin"}
    assert lines[GPT].split()[-1] == "ok"
    assert lines[QWEN].split()[-1] == "ok"
    assert "FAILED" in lines["broken-plugin"]
    assert "ImportError" in lines["broken-plugin"]
    assert "imgedit_broken_plugin" in lines["broken-plugin"]

    data = json.loads(invoke("plugins", "--json").stdout)
    assert {p["name"] for p in data["plugins"]} == {GPT, QWEN}
    [failure] = data["failures"]
    assert (failure["name"], failure["stage"]) == ("broken-plugin", "import")


@pytest.mark.usefixtures("broken_plugin")
def test_a_broken_plugin_does_not_take_models_or_help_down() -> None:
    models = invoke("models")
    assert models.exit_code == 0
    assert {row[0] for row in table_rows(models.stdout)} == set(MODELS)
    assert "broken-plugin" in models.stderr

    helped = invoke("--help")
    assert helped.exit_code == 0
    assert help_commands(helped.stdout) == [
        "batch",
        "config",
        "edit",
        "emulator",
        "keys",
        "models",
        "plugins",
    ]


# --- version and help -----------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    result = invoke(flag)

    assert result.exit_code == 0
    assert result.stdout.split() == ["imgedit,", "version", imgedit_core.__version__]


COMMANDS = ["batch", "config", "edit", "emulator", "keys", "models", "plugins"]


def test_help_lists_the_commands() -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    assert "COMETAPI_KEY" in result.stdout
    assert help_commands(result.stdout) == [
        "batch",
        "config",
        "edit",
        "emulator",
        "keys",
        "models",
        "plugins",
    ]

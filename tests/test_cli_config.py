"""``imgedit config path|show|validate``, ``imgedit --config``, and what ``imgedit models`` and
``imgedit plugins`` say about aliases, routes and provider instances: what a user reads."""

from __future__ import annotations

import base64
import json
import re
import textwrap
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs
import pytest
import respx
from click.testing import CliRunner, Result

from imgedit_cometapi_gpt.models import MODELS as GPT_MODELS
from imgedit_core import ModelSpec, OpenAICompatibleProvider, Provider, hookimpl
from imgedit_core import plugins as plugins_module
from imgedit_core.cli.main import cli
from imgedit_core.config import user_config_dir
from imgedit_core.keys import KeyStore
from imgedit_core.testing import decode_request, make_image

GPT = "cometapi-gpt-image"
QWEN = "cometapi-qwen-image-edit"
COMET_KEY = "sk-comet-cli-config-0123456789"
HEADER_SECRET = "hdr-secret-value-0123456789"
OUT = make_image(color="green")


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def user_file(text: str) -> Path:
    return write(user_config_dir() / "config.toml", text)


def project_file(text: str) -> Path:
    return write(Path.cwd() / "imgedit.toml", text)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def table(text: str) -> list[list[str]]:
    """The cells of a rendered table (columns are two or more spaces apart)."""
    lines = text.strip("\n").splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}, f"no rule under the header:\n{text}"
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]


def table_lines(text: str) -> list[str]:
    """Only the lines of the first table in ``text``, header included."""
    lines = text.splitlines()
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    end = min(
        end, next((i for i, line in enumerate(lines) if line.startswith(("alias", "route"))), end)
    )
    return lines[:end]


INSTANCE = """
[providers.openai]
uses = "cometapi-gpt-image"
base_url = "https://openai.example/v1"
key_env = "OPENAI_API_KEY"
"""


# -- imgedit config path ----------------------------------------------------------------------


def test_config_path_without_files_shows_where_the_user_file_would_be() -> None:
    result = invoke("config", "path")
    as_json = invoke("config", "path", "--json")

    user = user_config_dir() / "config.toml"
    assert result.exit_code == 0
    assert result.stdout == f"user\t{user} (not present)\n"
    assert json.loads(as_json.stdout) == {"files": [], "user_file": str(user)}


def test_config_path_lists_the_files_lowest_precedence_first() -> None:
    user = user_file('[defaults]\nquality = "low"\n')
    project = project_file('[defaults]\nquality = "high"\n')

    result = invoke("config", "path")
    as_json = invoke("config", "path", "--json")

    assert result.stdout == f"user\t{user}\nproject\t{project}\n"
    assert json.loads(as_json.stdout) == {
        "files": [
            {"role": "user", "path": str(user)},
            {"role": "project", "path": str(project)},
        ],
        "user_file": str(user),
    }


def test_config_path_with_config_flag_or_imgedit_config(tmp_path: Path) -> None:
    project_file('[defaults]\nquality = "high"\n')
    flagged = write(tmp_path / "a.toml", "")
    named = write(tmp_path / "b.toml", "")
    user = user_config_dir() / "config.toml"

    by_flag = invoke("--config", str(flagged), "config", "path", env={"IMGEDIT_CONFIG": str(named)})
    by_env = invoke("config", "path", env={"IMGEDIT_CONFIG": str(named)})

    assert by_flag.stdout == f"user\t{user} (not present)\n--config\t{flagged}\n"
    assert by_env.stdout == f"user\t{user} (not present)\nIMGEDIT_CONFIG\t{named}\n"


def test_a_config_flag_naming_a_missing_file_fails_every_command(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    for args in (["config", "path"], ["config", "show"], ["models"], ["edit", "x.png", "-p", "x"]):
        result = invoke("--config", str(missing), *args)
        assert result.exit_code == 2, args
        assert result.stderr == (
            f"Error: config file {str(missing)!r} (from --config) does not exist; "
            f"create it or point --config at an existing file.\n"
        )


# -- imgedit config show ----------------------------------------------------------------------


@pytest.fixture
def layered_config() -> tuple[Path, Path]:
    user = user_file(
        """
        [defaults]
        quality = "low"
        max_retries = 1

        [aliases]
        fast = "gpt-image-1-mini"
        """
    )
    project = project_file(
        f"""
        [defaults]
        model = "gpt-image-1"
        timeout = {{ connect = 5, read = 900 }}

        [models."gpt-image-2"]
        size = "1536x1024"

        [providers.openai]
        uses = "cometapi-gpt-image"
        base_url = "https://openai.example/v1"
        key_env = "OPENAI_API_KEY"
        max_retries = 0

        [providers.openai.headers]
        X-Title = "imgedit"
        Authorization = "{HEADER_SECRET}"
        X-Api-Key = "{HEADER_SECRET}"
        Session-Token = "{HEADER_SECRET}"

        [routes]
        "gpt-image-2" = "openai"
        """
    )
    return user, project


SHOW_ENV = {
    "IMGEDIT_MODEL": "gpt-image-1.5",
    "COMETAPI_KEY": COMET_KEY,
    "COMETAPI_BASE_URL": "https://comet-proxy.example/v1",
}


def test_config_show_gives_every_value_and_where_it_came_from(
    layered_config: tuple[Path, Path],
) -> None:
    user, project = (str(p) for p in layered_config)

    result = invoke("config", "show", env=SHOW_ENV)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["KEY", "VALUE", "FROM"]
    rows = {row[0]: (row[1], row[2]) for row in table(result.stdout)}
    fix = "set OPENAI_API_KEY or run `imgedit keys set OPENAI_API_KEY`"
    assert rows == {
        "defaults.model": ("gpt-image-1.5", "env IMGEDIT_MODEL"),
        "defaults.timeout": ('{"connect": 5, "read": 900}', project),
        "defaults.max_retries": ("1", user),
        "defaults.offline": ("false", "default"),
        "defaults.quality": ("low", user),
        "models.gpt-image-2.size": ("1536x1024", project),
        "aliases.fast": ("gpt-image-1-mini", user),
        "routes.gpt-image-2": ("openai", project),
        f"providers.{GPT}.base_url": ("https://comet-proxy.example/v1", "env COMETAPI_BASE_URL"),
        f"providers.{GPT}.key_env": ("COMETAPI_KEY", "default"),
        f"providers.{GPT}.key": ("set", "env COMETAPI_KEY"),
        f"providers.{QWEN}.base_url": ("https://comet-proxy.example/v1", "env COMETAPI_BASE_URL"),
        f"providers.{QWEN}.key_env": ("COMETAPI_KEY", "default"),
        f"providers.{QWEN}.key": ("set", "env COMETAPI_KEY"),
        "providers.openai.uses": (GPT, project),
        "providers.openai.base_url": ("https://openai.example/v1", project),
        "providers.openai.key_env": ("OPENAI_API_KEY", project),
        "providers.openai.key": ("missing", fix),
        "providers.openai.max_retries": ("0", project),
        "providers.openai.headers.Authorization": ("<redacted>", project),
        "providers.openai.headers.Session-Token": ("<redacted>", project),
        "providers.openai.headers.X-Api-Key": ("<redacted>", project),
        "providers.openai.headers.X-Title": ("imgedit", project),
    }
    assert COMET_KEY not in result.output
    assert HEADER_SECRET not in result.output


def test_config_show_defaults_without_any_file() -> None:
    result = invoke("config", "show")

    rows = {row[0]: (row[1], row[2]) for row in table(result.stdout)}
    assert rows["defaults.model"] == ("gpt-image-2", "default")
    assert rows["defaults.timeout"] == ("read/write 600, connect 10", "default")
    assert rows["defaults.max_retries"] == ("2", "default")
    assert rows[f"providers.{GPT}.base_url"] == ("https://api.cometapi.com/v1", "default")
    assert rows[f"providers.{GPT}.key"] == (
        "missing",
        "set COMETAPI_KEY or run `imgedit keys set COMETAPI_KEY`",
    )


def test_config_show_says_a_key_is_stored_without_showing_it() -> None:
    KeyStore().set("COMETAPI_KEY", COMET_KEY)

    result = invoke("config", "show", "--json")

    rows = {row["key"]: row for row in json.loads(result.stdout)}
    assert rows[f"providers.{GPT}.key"] == {
        "key": f"providers.{GPT}.key",
        "value": "set",
        "source": f"key file {KeyStore().path}",
    }
    assert COMET_KEY not in result.output


def test_config_show_json_has_the_same_rows_with_secrets_redacted(
    layered_config: tuple[Path, Path],
) -> None:
    text = invoke("config", "show", env=SHOW_ENV)
    as_json = invoke("config", "show", "--json", env=SHOW_ENV)

    rows = json.loads(as_json.stdout)
    assert [r["key"] for r in rows] == [row[0] for row in table(text.stdout)]
    by_key = {r["key"]: r for r in rows}
    assert by_key["defaults.timeout"] == {
        "key": "defaults.timeout",
        "value": {"connect": 5, "read": 900},
        "source": str(layered_config[1]),
    }
    assert by_key["providers.openai.max_retries"]["value"] == 0
    assert by_key["providers.openai.headers.Authorization"]["value"] == "<redacted>"
    assert HEADER_SECRET not in as_json.output
    assert COMET_KEY not in as_json.output


def test_config_show_lists_the_offline_setting() -> None:
    path = project_file("[defaults]\noffline = true\n")

    result = invoke("config", "show")

    rows = {row[0]: (row[1], row[2]) for row in table(result.stdout)}
    assert rows.get("defaults.offline") == ("true", str(path))


# -- imgedit config validate ------------------------------------------------------------------


def test_config_validate_ok(layered_config: tuple[Path, Path]) -> None:
    user, project = layered_config

    result = invoke("config", "validate")
    project.unlink()
    user_only = invoke("config", "validate")
    user.unlink()
    bare = invoke("config", "validate")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"ok: {user}, {project}\n"
    assert result.stderr == ""
    assert user_only.stdout == f"ok: {user}\n"
    assert (bare.exit_code, bare.stdout) == (0, "ok: no config files\n")


def test_config_validate_lists_every_problem_and_exits_2() -> None:
    path = project_file(
        f"""
        [models."gpt-image-2"]
        input_fidelity = "high"

        [aliases]
        fast = "gpt-image-9"

        [providers.acme]
        base_url = "https://acme.example/v1"

        [routes]
        "gpt-image-1" = "{QWEN}"
        """
    )

    result = invoke("config", "validate")

    assert result.exit_code == 2
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 4, result.stderr
    assert all(line.startswith(f"Error: {path}: ") for line in errors)
    text = "\n".join(errors)
    # alias to an unknown model, with a suggestion
    assert "aliases.fast: unknown model 'gpt-image-9'. Did you mean: gpt-image-2" in text
    # route to a provider that does not serve the model
    assert f"routes.gpt-image-1 sends 'gpt-image-1' to {QWEN}, which does not serve it" in text
    # a per-model option the model refuses
    assert "models.gpt-image-2: model 'gpt-image-2' does not accept input_fidelity='high'" in text
    # settings for a provider that is not installed
    assert "[providers.acme] names no installed provider; add uses = " in text
    assert f"(installed: {GPT}, {QWEN})" in text


def test_config_validate_reports_routes_and_defaults_that_cannot_resolve() -> None:
    path = project_file(
        """
        [defaults]
        model = "gpt-imag-2"

        [routes]
        "qwen-*" = "fal"
        """
    )

    result = invoke("config", "validate")

    assert result.exit_code == 2
    assert f"Error: {path}: routes.qwen-* names provider 'fal'" in result.stderr
    assert f"Error: {path}: defaults.model: unknown model 'gpt-imag-2'" in result.stderr


def test_config_validate_reports_an_instance_of_an_unknown_provider() -> None:
    path = project_file(INSTANCE.replace('"cometapi-gpt-image"', '"openai-images"'))

    result = invoke("config", "validate")

    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {path}: providers.openai.uses names 'openai-images', which is not an installed"
    )


def test_config_validate_refuses_a_broken_file_with_the_file_and_the_fix() -> None:
    path = project_file('[defaults]\nqualty = "low"\n')

    result = invoke("config", "validate")

    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path}: unknown key 'defaults.qualty'; did you mean 'quality'?\n"
    )


# -- imgedit --config PATH edit ---------------------------------------------------------------


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    answer = {"data": [{"b64_json": base64.b64encode(OUT).decode()}]}
    with respx.mock(assert_all_called=False) as mock:
        mock.route(method="POST").respond(200, json=answer)
        yield mock


def test_edit_with_config_flag_uses_that_file(router: respx.MockRouter, tmp_path: Path) -> None:
    project_file('[defaults]\nmodel = "qwen-image-edit"\n')  # must be ignored
    config = write(
        tmp_path / "conf" / "team.toml",
        """
        [defaults]
        model = "gpt-image-1"
        quality = "low"
        timeout = 120
        max_retries = 0

        [providers.cometapi-gpt-image]
        headers = { "X-Title" = "team" }
        """,
    )
    image = tmp_path / "boat.png"
    image.write_bytes(make_image())
    out = tmp_path / "out.png"
    edit = ("--config", str(config), "edit", str(image), "-p", "Add a hat")

    dry = invoke(*edit, "--dry-run")
    done = invoke(*edit, "-o", str(out), env={"COMETAPI_KEY": COMET_KEY})

    assert dry.exit_code == 0, dry.stderr
    assert "provider: cometapi-gpt-image" in dry.stdout
    assert "timeout: connect=10s read=120s write=120s pool=120s; max retries: 0" in dry.stdout
    assert "field model = gpt-image-1" in dry.stdout
    assert "field quality = low" in dry.stdout
    assert "x-title: team" in dry.stdout
    assert done.exit_code == 0, done.stderr
    assert done.stdout == f"{out}\n"
    assert out.read_bytes() == OUT
    sent = router.calls.last.request
    wire = decode_request(sent)
    assert (wire.field("model"), wire.field("quality")) == ("gpt-image-1", "low")
    assert sent.headers["x-title"] == "team"
    assert sent.extensions["timeout"]["read"] == 120.0


def test_edit_flags_beat_the_config_file(router: respx.MockRouter, tmp_path: Path) -> None:
    project_file('[defaults]\nmodel = "gpt-image-1"\nquality = "low"\ntimeout = 120\n')
    image = tmp_path / "boat.png"
    image.write_bytes(make_image())

    dry = invoke(
        "edit", str(image), "-p", "x", "-m", "gpt-image-2", "--quality", "high",
        "--timeout", "45", "--max-retries", "3", "--dry-run",
        env={"IMGEDIT_MAX_RETRIES": "1"},
    )  # fmt: skip

    assert dry.exit_code == 0, dry.stderr
    assert "field model = gpt-image-2" in dry.stdout
    assert "field quality = high" in dry.stdout
    assert "timeout: connect=10s read=45s write=45s pool=45s; max retries: 3" in dry.stdout


def test_a_configured_output_format_never_contradicts_the_output_name(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    webp = make_image(fmt="WEBP")
    router.routes.clear()
    router.post().respond(200, json={"data": [{"b64_json": base64.b64encode(webp).decode()}]})
    project_file('[defaults]\noutput_format = "webp"\n')
    image = tmp_path / "boat.png"
    image.write_bytes(make_image())
    out = tmp_path / "out.png"

    result = invoke("edit", str(image), "-p", "x", "-o", str(out), env={"COMETAPI_KEY": COMET_KEY})

    written = out.read_bytes() if out.exists() else b""
    assert result.exit_code == 2 or written.startswith(b"\x89PNG"), (result.stderr, written[:12])


# -- imgedit models and imgedit plugins -------------------------------------------------------


class OtherGateway(OpenAICompatibleProvider):
    name = "other-gateway"
    default_base_url = "https://other.example/v1"
    key_env = "OTHER_KEY"

    def models(self) -> Sequence[ModelSpec]:
        return GPT_MODELS[:1]  # gpt-image-2 only


@attrs.frozen
class FakeEntryPoint:
    name: str
    value: str
    loader: Callable[[], object]
    dist: None = None

    def load(self) -> object:
        return self.loader()


@pytest.fixture
def other_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second installed plugin that also serves gpt-image-2."""
    module = types.ModuleType("other_gateway_plugin")

    @hookimpl
    def register_providers(register: Callable[[Provider], None]) -> None:
        register(OtherGateway())

    module.register_providers = register_providers  # type: ignore[attr-defined]
    real = list(plugins_module._entry_points())
    fake = FakeEntryPoint("other-gateway", "other_gateway_plugin", lambda: module)
    monkeypatch.setattr(plugins_module, "_entry_points", lambda: [*real, fake])


def used(stdout: str) -> dict[tuple[str, str], str]:
    return {(row[0], row[1]): row[2] for row in table("\n".join(table_lines(stdout)))}


def test_models_used_column_without_config_marks_every_model_yes() -> None:
    result = invoke("models")

    assert result.exit_code == 0
    assert set(used(result.stdout).values()) == {"yes"}
    assert "alias " not in result.stdout
    assert "route " not in result.stdout


def test_models_shows_which_provider_is_used_and_why() -> None:
    path = project_file(
        INSTANCE
        + """
        [aliases]
        fast = "gpt-image-1-mini"

        [routes]
        "gpt-image-2" = "openai"
        """
    )

    result = invoke("models")

    assert result.exit_code == 0, result.stderr
    marks = used(result.stdout)
    assert marks[("gpt-image-2", GPT)] == "-"
    assert marks[("gpt-image-2", "openai")] == "route"
    assert marks[("gpt-image-1", GPT)] == "yes"
    assert marks[("gpt-image-1", "openai")] == "-"  # an instance takes no traffic by itself
    assert marks[("qwen-image-edit", QWEN)] == "yes"
    assert f"alias fast -> gpt-image-1-mini  ({path})" in result.stdout.splitlines()
    assert f"route gpt-image-2 -> openai  ({path})" in result.stdout.splitlines()


def test_models_marks_a_model_two_plugins_serve_as_ambiguous(other_gateway: None) -> None:
    result = invoke("models")
    project_file('[routes]\n"gpt-image-2" = "other-gateway"\n')
    routed = invoke("models")

    assert used(result.stdout)[("gpt-image-2", GPT)] == "ambiguous"
    assert used(result.stdout)[("gpt-image-2", "other-gateway")] == "ambiguous"
    assert used(routed.stdout)[("gpt-image-2", GPT)] == "-"
    assert used(routed.stdout)[("gpt-image-2", "other-gateway")] == "route"


def test_models_json_says_which_entry_is_selected_routed_and_aliased() -> None:
    project_file(
        INSTANCE
        + """
        [aliases]
        fast = "gpt-image-1-mini"
        quick = "gpt-image-1-mini"

        [routes]
        "gpt-image-2" = "openai"
        """
    )

    result = invoke("models", "--json")

    entries = {(e["model"], e["provider"]): e for e in json.loads(result.stdout)}
    assert entries[("gpt-image-2", "openai")]["selected"] is True
    assert entries[("gpt-image-2", "openai")]["route"] is True
    assert entries[("gpt-image-2", GPT)]["selected"] is False
    assert entries[("gpt-image-1", GPT)]["selected"] is True
    assert entries[("gpt-image-1", GPT)]["route"] is False
    assert entries[("gpt-image-1", "openai")]["selected"] is False
    assert entries[("gpt-image-1-mini", GPT)]["config_aliases"] == ["fast", "quick"]
    assert entries[("gpt-image-1", GPT)]["config_aliases"] == []


def test_plugins_lists_instances_and_routes() -> None:
    project_file(
        INSTANCE + '\n[routes]\n"gpt-image-2" = "openai"\n"qwen-*" = "cometapi-qwen-image-edit"\n'
    )

    result = invoke("plugins")

    assert result.exit_code == 0, result.stderr
    _, _, after = result.stdout.partition("\nProvider instances from config:\n")
    instance_table, _, routes = after.partition("\nroute ")
    assert table(instance_table) == [["openai", GPT, "https://openai.example/v1", "OPENAI_API_KEY"]]
    header = re.split(r"\s{2,}", instance_table.splitlines()[0].strip())
    assert header == ["INSTANCE", "USES", "BASE URL", "KEY ENV"]
    assert ("route " + routes).splitlines() == [
        "route gpt-image-2 -> openai",
        f"route qwen-* -> {QWEN}",
    ]


def test_plugins_without_config_has_no_instance_section() -> None:
    result = invoke("plugins")

    assert result.exit_code == 0
    assert "Provider instances" not in result.stdout
    assert "route " not in result.stdout


def test_plugins_json_has_instances_and_routes() -> None:
    path = project_file(INSTANCE + '\n[routes]\n"gpt-image-2" = "openai"\n')

    result = invoke("plugins", "--json")

    data = json.loads(result.stdout)
    assert [p["name"] for p in data["plugins"]] == [GPT, QWEN]
    assert data["instances"] == [
        {
            "name": "openai",
            "uses": GPT,
            "base_url": "https://openai.example/v1",
            "key_env": "OPENAI_API_KEY",
            "file": str(path),
        }
    ]
    assert data["routes"] == {"gpt-image-2": "openai"}


def test_a_pattern_route_sends_only_the_models_its_provider_serves(
    other_gateway: None,
) -> None:
    # other-gateway serves gpt-image-2 only; the pattern also matches gpt-image-1, which it
    # cannot serve, so gpt-image-1 stays with the provider that serves it.
    project_file('[routes]\n"gpt-image-*" = "other-gateway"\n')
    Path("boat.png").write_bytes(make_image())

    routed = invoke("edit", "boat.png", "-p", "x", "-m", "gpt-image-2", "--dry-run")
    unrouted = invoke("edit", "boat.png", "-p", "x", "-m", "gpt-image-1", "--dry-run")
    result = invoke("config", "validate")

    assert routed.exit_code == 0, routed.stderr
    assert "provider: other-gateway" in routed.stdout
    assert unrouted.exit_code == 0, unrouted.stderr
    assert f"provider: {GPT}" in unrouted.stdout
    assert result.exit_code == 0, result.stderr

"""Config files: where they are found, how they layer, what they refuse, and what they change.

Every effect is asserted where a user would notice it: in the request that is actually sent
(respx: URL, headers, form fields, the timeout the transport was given, how many attempts were
made), in ``Client.limits()``, and in the messages of the errors a mistake produces.
"""

from __future__ import annotations

import base64
import textwrap
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from imgedit_cometapi_gpt.models import MODELS as GPT_MODELS
from imgedit_core import (
    AmbiguousModelError,
    APIConnectionError,
    AuthenticationError,
    CapabilityError,
    Client,
    ConfigError,
    ModelSpec,
    OpenAICompatibleProvider,
    Provider,
    ServerError,
    UnknownModelError,
    hookimpl,
)
from imgedit_core.config import Config, config_files, load_config, user_config_dir
from imgedit_core.testing import decode_request, make_image

COMET_KEY = "sk-comet-config-0123456789"
OTHER_KEY = "sk-other-gateway-0123456789"
OPENAI_KEY = "sk-openai-instance-0123456789"
COMET_URL = "https://api.cometapi.com/v1/images/edits"
OTHER_URL = "https://other.example/v1/images/edits"
OPENAI_URL = "https://openai.example/v1/images/edits"
PNG = make_image()
OUT = make_image(color="green")

GPT = "cometapi-gpt-image"
QWEN = "cometapi-qwen-image-edit"


class OtherGateway(OpenAICompatibleProvider):
    """A second plugin serving the GPT image models, so that a route has a choice to make."""

    name = "other-gateway"
    default_base_url = "https://other.example/v1"
    base_url_env = "OTHER_BASE_URL"
    key_env = "OTHER_KEY"

    def models(self) -> Sequence[ModelSpec]:
        return GPT_MODELS


def plugin(*providers: Provider) -> types.ModuleType:
    module = types.ModuleType("test_config_plugin")

    @hookimpl
    def register_providers(register: Callable[[Provider], None]) -> None:
        for provider in providers:
            register(provider)

    module.register_providers = register_providers  # type: ignore[attr-defined]
    return module


OTHER_PLUGIN = plugin(OtherGateway())


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test runs in its own folder, so ./imgedit.toml is the test's own or absent."""
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def user_file(text: str) -> Path:
    return write(user_config_dir() / "config.toml", text)


def project_file(text: str) -> Path:
    return write(Path.cwd() / "imgedit.toml", text)


def client(
    env: dict[str, str] | None = None,
    *,
    config: Any = None,
    plugins: Sequence[object] = (),
    **kwargs: Any,
) -> Client:
    """A Client that sees only ``env`` (plus a CometAPI key) and no stored keys."""
    environ = {"COMETAPI_KEY": COMET_KEY, **(env or {})}
    return Client(config=config, environ=environ, extra_plugins=plugins, keys=False, **kwargs)


def b64_answer(data: bytes = OUT) -> dict[str, Any]:
    return {"created": 1781075000, "data": [{"b64_json": base64.b64encode(data).decode()}]}


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """Every POST answers one edited image; the test reads back what was sent."""
    with respx.mock(assert_all_called=False) as mock:
        mock.route(method="POST").respond(200, json=b64_answer())
        yield mock


def last(router: respx.MockRouter) -> httpx.Request:
    request = router.calls.last.request
    assert isinstance(request, httpx.Request)
    return request


def fields(request: httpx.Request) -> dict[str, str]:
    """The form fields of a sent multipart request, read back by the email parser."""
    return {name: values[0] for name, values in decode_request(request).fields.items()}


def edit(c: Client, model: str | None = None, **kwargs: Any) -> Any:
    with c:
        return c.edit(PNG, "Add a small red ribbon", model=model, **kwargs)


# -- finding the files ------------------------------------------------------------------------


def test_without_files_the_config_is_empty_and_the_defaults_apply(
    router: respx.MockRouter,
) -> None:
    assert config_files() == []
    assert load_config() == Config()

    edit(client())

    sent = last(router)
    assert str(sent.url) == COMET_URL
    assert fields(sent) == {"prompt": "Add a small red ribbon", "model": "gpt-image-2"}


def test_the_project_file_is_found_in_the_current_folder_above_the_user_file() -> None:
    user = user_file('[defaults]\nmodel = "gpt-image-1"\n')
    project = project_file('[defaults]\nmodel = "gpt-image-1.5"\n')

    found = config_files()

    assert [(f.role, f.path) for f in found] == [("user", user), ("project", project)]


def test_the_user_file_alone_applies(router: respx.MockRouter) -> None:
    user_file('[defaults]\nmodel = "gpt-image-1"\n')

    edit(client())

    assert fields(last(router))["model"] == "gpt-image-1"


def test_config_flag_beats_imgedit_config_which_beats_the_current_folder(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    user_file('[defaults]\nmodel = "gpt-image-1"\nquality = "low"\n')
    project_file('[defaults]\nmodel = "gpt-image-1.5"\n')
    named = write(tmp_path / "elsewhere" / "env.toml", '[defaults]\nmodel = "gpt-image-1-mini"\n')
    flagged = write(tmp_path / "flagged.toml", '[defaults]\nmodel = "qwen-image-edit"\n')
    env = {"IMGEDIT_CONFIG": str(named)}

    edit(client())
    by_cwd = fields(last(router))
    edit(client(env))
    by_env = fields(last(router))
    edit(client(env, config=flagged))
    by_flag = fields(last(router))

    # The user file lies underneath whichever project-level file is chosen.
    assert (by_cwd["model"], by_cwd["quality"]) == ("gpt-image-1.5", "low")
    assert (by_env["model"], by_env["quality"]) == ("gpt-image-1-mini", "low")
    assert by_flag["model"] == "qwen-image-edit"
    assert [f.role for f in config_files(flagged, env)] == ["user", "--config"]
    assert [f.role for f in config_files(None, env)] == ["user", "IMGEDIT_CONFIG"]


@pytest.mark.parametrize("how", ["--config", "IMGEDIT_CONFIG"])
def test_a_named_file_that_does_not_exist_is_an_error(
    how: str, router: respx.MockRouter, tmp_path: Path
) -> None:
    project_file('[defaults]\nmodel = "gpt-image-1"\n')  # never a silent fallback to this
    missing = tmp_path / "typo.toml"
    c = client(config=missing) if how == "--config" else client({"IMGEDIT_CONFIG": str(missing)})

    with pytest.raises(ConfigError) as caught:
        edit(c)

    message = str(caught.value)
    assert str(missing) in message
    assert how in message
    assert "does not exist" in message
    assert len(router.calls) == 0


# -- layering ---------------------------------------------------------------------------------


def test_the_project_file_overrides_the_user_file_key_by_key_and_remembers_origins(
    router: respx.MockRouter,
) -> None:
    user = user_file(
        """
        [defaults]
        model = "gpt-image-1"
        quality = "low"
        background = "opaque"

        [models."gpt-image-1"]
        size = "1024x1536"
        output_format = "webp"

        [providers.cometapi-gpt-image]
        headers = { "X-Title" = "from-user" }
        """
    )
    project = project_file(
        """
        [defaults]
        quality = "high"

        [models."gpt-image-1"]
        output_format = "jpeg"
        """
    )

    config = load_config()
    edit(client())

    assert config.defaults == {"model": "gpt-image-1", "quality": "high", "background": "opaque"}
    assert config.models == {"gpt-image-1": {"size": "1024x1536", "output_format": "jpeg"}}
    assert config.origin("defaults.model") == str(user)
    assert config.origin("defaults.quality") == str(project)
    assert config.origin("defaults.background") == str(user)
    assert config.origin("models.gpt-image-1.size") == str(user)
    assert config.origin("models.gpt-image-1.output_format") == str(project)
    assert config.origin("providers.cometapi-gpt-image.headers") == str(user)
    assert [f.path for f in config.files] == [user, project]
    sent = last(router)
    assert fields(sent) == {
        "prompt": "Add a small red ribbon",
        "model": "gpt-image-1",
        "quality": "high",
        "size": "1024x1536",
        "output_format": "jpeg",
        "background": "opaque",
    }
    assert sent.headers["x-title"] == "from-user"


def test_a_provider_table_in_the_project_file_keeps_the_user_files_other_keys(
    router: respx.MockRouter,
) -> None:
    user_file(
        """
        [providers.openai]
        uses = "cometapi-gpt-image"
        base_url = "https://user.example/v1"
        key_env = "OPENAI_API_KEY"
        """
    )
    project_file('[providers.openai]\nbase_url = "https://openai.example/v1"\n')

    edit(client({"OPENAI_API_KEY": OPENAI_KEY}), provider="openai")

    sent = last(router)
    assert str(sent.url) == OPENAI_URL
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"


# -- schema errors ----------------------------------------------------------------------------

SCHEMA_ERRORS = [
    pytest.param("[route]\nx = 1\n", "'route'", "did you mean 'routes'?", id="top-level-typo"),
    pytest.param(
        '[defaults]\nqualty = "low"\n',
        "'defaults.qualty'",
        "did you mean 'quality'?",
        id="defaults-typo",
    ),
    pytest.param(
        '[providers.openai]\nbase-url = "https://openai.example/v1"\n',
        "'providers.openai.base-url'",
        "did you mean 'base_url'?",
        id="provider-typo",
    ),
    pytest.param(
        '[models."gpt-image-2"]\nsizes = "1024x1024"\n',
        "'models.gpt-image-2.sizes'",
        "did you mean 'size'?",
        id="model-option-typo",
    ),
    pytest.param("defaults = 3\n", "[defaults]", "must be a table", id="table-not-a-table"),
    pytest.param(
        '[models]\n"gpt-image-2" = "high"\n',
        "models.gpt-image-2",
        '[models."gpt-image-2"] quality = "high"',
        id="models-entry-not-a-table",
    ),
    pytest.param('[defaults]\nn = "2"\n', "defaults.n", "must be a whole number", id="n-string"),
    pytest.param(
        "[defaults]\nquality = 3\n", "defaults.quality", "a string in quotes", id="quality-int"
    ),
    pytest.param("[defaults]\nmodel = 5\n", "defaults.model", '"gpt-image-2"', id="model-int"),
    pytest.param(
        "[defaults]\nmax_retries = -1\n",
        "defaults.max_retries",
        "whole number of 0 or more",
        id="retries-negative",
    ),
    pytest.param(
        '[defaults]\ntimeout = "soon"\n',
        "defaults.timeout",
        "number of seconds",
        id="timeout-word",
    ),
    pytest.param(
        "[defaults]\ntimeout = { conect = 5 }\n",
        "defaults.timeout",
        "unknown timeout phase 'conect'",
        id="timeout-phase-typo",
    ),
    pytest.param(
        "[defaults]\ntimeout = true\n",
        "defaults.timeout",
        "timeout = { connect = 5, read = 900 }",
        id="timeout-bool",
    ),
    pytest.param("[aliases]\nfast = 1\n", "aliases.fast", "a model name in quotes", id="alias-int"),
    pytest.param(
        '[routes]\n"gpt-image-2" = true\n',
        "routes.gpt-image-2",
        "a provider name in quotes",
        id="route-bool",
    ),
    pytest.param(
        '[providers.openai]\nbase_url = "api.openai.com/v1"\n',
        "providers.openai.base_url",
        'an http(s) URL such as "https://api.openai.com/v1"',
        id="base-url-no-scheme",
    ),
    pytest.param(
        '[providers.openai]\nkey_env = "OPENAI API KEY"\n',
        "providers.openai.key_env",
        'must name an environment variable such as "OPENAI_API_KEY"',
        id="key-env-spaces",
    ),
    pytest.param(
        '[providers.openai]\nbase_url_env = "1URL"\n',
        "providers.openai.base_url_env",
        "must name an environment variable",
        id="base-url-env-digit",
    ),
    pytest.param(
        "[providers.openai]\nmax_retries = 1.5\n",
        "providers.openai.max_retries",
        "whole number",
        id="provider-retries-float",
    ),
    pytest.param(
        '[providers.openai]\nheaders = { "X-Title" = 1 }\n',
        "providers.openai.headers",
        'headers = { "X-Title" = "imgedit" }',
        id="headers-not-strings",
    ),
    pytest.param(
        '[providers.OpenAI]\nbase_url = "https://openai.example/v1"\n',
        "'OpenAI'",
        "lower-case",
        id="provider-name-case",
    ),
    pytest.param(
        '[providers.openai]\nuses = "cometapi-gpt-image"\nbase_url = "https://openai.example/v1"\n',
        "providers.openai",
        'needs key_env, the environment variable holding its key (e.g. key_env = "OPENAI_API_KEY")',
        id="instance-without-key-env",
    ),
    pytest.param(
        '[providers.openai]\nuses = "cometapi-gpt-image"\nkey_env = "OPENAI_API_KEY"\n',
        "providers.openai",
        "needs base_url",
        id="instance-without-base-url",
    ),
    pytest.param(
        '[defaults]\nmodel = "gpt-image-2\n',
        "not valid TOML",
        "Fix the syntax",
        id="invalid-toml",
    ),
]


@pytest.mark.parametrize(("text", "key", "fix"), SCHEMA_ERRORS)
def test_schema_errors_name_the_file_the_key_and_the_fix(
    text: str, key: str, fix: str, router: respx.MockRouter
) -> None:
    path = project_file(text)

    with pytest.raises(ConfigError) as caught:
        edit(client())

    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert key in message
    assert fix in message
    assert len(router.calls) == 0


def test_a_mistake_in_the_user_file_names_the_user_file() -> None:
    user = user_file('[defaults]\nqualty = "low"\n')
    project_file('[defaults]\nquality = "low"\n')

    with pytest.raises(ConfigError) as caught:
        load_config()

    assert str(caught.value).startswith(f"{user}: ")
    assert "imgedit.toml" not in str(caught.value)


def test_an_unknown_key_without_a_close_match_lists_the_known_ones() -> None:
    project_file("[defaults]\nzzz = 1\n")

    with pytest.raises(ConfigError) as caught:
        load_config()

    assert "known keys: " in str(caught.value)
    assert "quality" in str(caught.value)


# -- precedence: flag > environment > project file > user file > default ----------------------

LAYERS = ["default", "user", "project", "env", "flag"]


def layered(
    top: str, key: str, values: dict[str, Any], env_name: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Set every layer up to ``top`` (so each one must beat all those under it)."""
    n = LAYERS.index(top)
    env: dict[str, str] = {}
    flags: dict[str, Any] = {}
    if n >= 1:
        user_file(f"[defaults]\n{key} = {values['user']}\n")
    if n >= 2:
        project_file(f"[defaults]\n{key} = {values['project']}\n")
    if n >= 3:
        env[env_name] = values["env"]
    if n >= 4:
        flags[key] = values["flag"]
    return env, flags


@pytest.mark.parametrize("top", LAYERS)
def test_model_precedence(top: str, router: respx.MockRouter) -> None:
    values = {
        "user": '"gpt-image-1"',
        "project": '"gpt-image-1.5"',
        "env": "gpt-image-1-mini",
        "flag": "qwen-image-edit",
    }
    env, flags = layered(top, "model", values, "IMGEDIT_MODEL")
    expected = {
        "default": "gpt-image-2",
        "user": "gpt-image-1",
        "project": "gpt-image-1.5",
        "env": "gpt-image-1-mini",
        "flag": "qwen-image-edit",
    }[top]

    edit(client(env), **flags)

    assert fields(last(router))["model"] == expected


@pytest.mark.parametrize("top", LAYERS)
def test_timeout_precedence(top: str, router: respx.MockRouter) -> None:
    values = {"user": "100", "project": "200", "env": "300", "flag": 400.0}
    env, flags = layered(top, "timeout", values, "IMGEDIT_TIMEOUT")
    expected = {"default": 600.0, "user": 100.0, "project": 200.0, "env": 300.0, "flag": 400.0}[top]
    c = client(env, **flags)

    timeout, _ = c.limits(GPT)
    edit(c)

    assert timeout.read == timeout.write == expected
    assert timeout.connect == 10.0  # a single number never raises connect above 10 s
    sent = last(router).extensions["timeout"]
    assert (sent["read"], sent["write"], sent["connect"]) == (expected, expected, 10.0)


@pytest.mark.parametrize("top", LAYERS)
def test_max_retries_precedence(top: str, router: respx.MockRouter) -> None:
    values = {"user": "4", "project": "3", "env": "1", "flag": 0}
    env, flags = layered(top, "max_retries", values, "IMGEDIT_MAX_RETRIES")
    expected = {"default": 2, "user": 4, "project": 3, "env": 1, "flag": 0}[top]
    router.routes.clear()
    failing = router.post(COMET_URL).respond(503, json={"error": {"message": "busy"}})
    c = client(env, **flags)

    _, policy = c.limits(GPT)
    with pytest.raises(ServerError):
        edit(c)

    assert policy.max_retries == expected
    assert failing.call_count == expected + 1


@pytest.mark.parametrize("top", LAYERS)
def test_base_url_precedence(top: str, router: respx.MockRouter) -> None:
    n = LAYERS.index(top)
    env: dict[str, str] = {}
    flags: dict[str, Any] = {}
    if n >= 1:
        user_file(f'[providers.{GPT}]\nbase_url = "https://user.example/v1"\n')
    if n >= 2:
        project_file(f'[providers.{GPT}]\nbase_url = "https://project.example/v1"\n')
    if n >= 3:
        env["COMETAPI_BASE_URL"] = "https://env.example/v1"
    if n >= 4:
        flags["base_url"] = "https://flag.example/v1"
    host = {
        "default": "api.cometapi.com",
        "user": "user.example",
        "project": "project.example",
        "env": "env.example",
        "flag": "flag.example",
    }[top]

    edit(client(env, **flags))

    assert str(last(router).url) == f"https://{host}/v1/images/edits"


def test_a_providers_own_timeout_and_retries_beat_defaults_for_that_provider_only() -> None:
    project_file(
        """
        [defaults]
        timeout = 100
        max_retries = 1

        [providers.cometapi-gpt-image]
        timeout = { connect = 5, read = 900 }
        max_retries = 0
        """
    )
    c = client()

    gpt_timeout, gpt_retry = c.limits(GPT)
    qwen_timeout, qwen_retry = c.limits(QWEN)
    env_timeout, env_retry = client({"IMGEDIT_TIMEOUT": "30", "IMGEDIT_MAX_RETRIES": "5"}).limits(
        GPT
    )

    assert (gpt_timeout.connect, gpt_timeout.read, gpt_timeout.write) == (5.0, 900.0, 600.0)
    assert gpt_retry.max_retries == 0
    assert (qwen_timeout.connect, qwen_timeout.read) == (10.0, 100.0)
    assert qwen_retry.max_retries == 1
    assert (env_timeout.read, env_retry.max_retries) == (30.0, 5)


def test_a_bad_imgedit_max_retries_names_the_variable(router: respx.MockRouter) -> None:
    with pytest.raises(ConfigError) as caught:
        edit(client({"IMGEDIT_MAX_RETRIES": "many"}))

    assert "IMGEDIT_MAX_RETRIES='many'" in str(caught.value)
    assert len(router.calls) == 0


def test_a_bad_imgedit_timeout_names_the_variable(router: respx.MockRouter) -> None:
    with pytest.raises(ConfigError, match="IMGEDIT_TIMEOUT"):
        edit(client({"IMGEDIT_TIMEOUT": "soon"}))


# -- edit options from [defaults] and [models."NAME"] -----------------------------------------


def test_default_options_apply_only_where_the_model_has_the_option(
    router: respx.MockRouter,
) -> None:
    project_file(
        """
        [defaults]
        quality = "low"
        output_format = "webp"
        background = "opaque"
        """
    )

    edit(client(), "gpt-image-2")
    gpt = fields(last(router))
    edit(client(), "qwen-image-edit")
    qwen = fields(last(router))

    assert gpt == {
        "prompt": "Add a small red ribbon",
        "model": "gpt-image-2",
        "quality": "low",
        "output_format": "webp",
        "background": "opaque",
    }
    # qwen-image-edit has no quality, output format or background: nothing is sent, no error.
    assert qwen == {"prompt": "Add a small red ribbon", "model": "qwen-image-edit"}


def test_a_flag_beats_a_configured_option(router: respx.MockRouter) -> None:
    project_file('[defaults]\nquality = "low"\n[models."gpt-image-2"]\nsize = "1024x1024"\n')

    edit(client(), "gpt-image-2", quality="high", size="1536x1024")

    sent = fields(last(router))
    assert (sent["quality"], sent["size"]) == ("high", "1536x1024")


def test_model_options_apply_to_that_model_and_beat_defaults(router: respx.MockRouter) -> None:
    project_file(
        """
        [defaults]
        quality = "low"

        [models."gpt-image-1"]
        quality = "high"
        input_fidelity = "high"
        """
    )

    edit(client(), "gpt-image-1")
    one = fields(last(router))
    edit(client(), "gpt-image-1.5")
    other = fields(last(router))
    edit(client(), "gpt-image-1-2025-04-15")  # a dated snapshot of gpt-image-1
    dated = fields(last(router))

    assert (one["quality"], one["input_fidelity"]) == ("high", "high")
    assert other["quality"] == "low"
    assert "input_fidelity" not in other
    assert (dated["model"], dated["input_fidelity"]) == ("gpt-image-1-2025-04-15", "high")


def test_a_model_option_the_model_refuses_stops_the_edit_before_sending(
    router: respx.MockRouter,
) -> None:
    project_file('[models."gpt-image-2"]\ninput_fidelity = "high"\n')

    with pytest.raises(CapabilityError) as caught:
        edit(client(), "gpt-image-2")

    assert (caught.value.model, caught.value.field, caught.value.value) == (
        "gpt-image-2",
        "input_fidelity",
        "high",
    )
    assert len(router.calls) == 0


def test_a_default_option_with_a_value_the_model_refuses_is_loud(
    router: respx.MockRouter,
) -> None:
    # qwen-image-edit has n (fixed at 1), so [defaults] n applies to it and is checked.
    project_file("[defaults]\nn = 2\n")

    with pytest.raises(CapabilityError, match="n=2"):
        edit(client(), "qwen-image-edit")

    assert len(router.calls) == 0


def test_an_edit_refused_because_of_a_config_option_names_the_file_and_key(
    router: respx.MockRouter,
) -> None:
    path = project_file('[models."gpt-image-2"]\ninput_fidelity = "high"\n')

    with pytest.raises(CapabilityError) as caught:
        edit(client(), "gpt-image-2")

    assert str(path) in str(caught.value)
    assert "models.gpt-image-2.input_fidelity" in str(caught.value)


# -- aliases ----------------------------------------------------------------------------------


def test_an_alias_sends_its_target_model(router: respx.MockRouter) -> None:
    project_file(
        """
        [defaults]
        model = "fast"

        [aliases]
        fast = "gpt-image-1-mini"
        """
    )

    edit(client(), "fast")
    by_name = fields(last(router))
    edit(client())
    by_default = fields(last(router))

    assert by_name["model"] == by_default["model"] == "gpt-image-1-mini"


def test_an_alias_to_an_unknown_model_is_refused_with_suggestions(
    router: respx.MockRouter,
) -> None:
    project_file('[aliases]\nfast = "gpt-image-9"\n')

    with pytest.raises(UnknownModelError) as caught:
        edit(client(), "fast")

    assert "'gpt-image-9'" in str(caught.value)
    assert "gpt-image-2" in caught.value.close
    assert len(router.calls) == 0


def test_model_options_written_under_an_alias_apply(router: respx.MockRouter) -> None:
    project_file(
        """
        [aliases]
        fast = "gpt-image-1-mini"

        [models.fast]
        quality = "low"
        """
    )

    edit(client(), "fast")

    assert fields(last(router)).get("quality") == "low"


# -- routes -----------------------------------------------------------------------------------


def test_two_providers_without_a_route_is_ambiguous_and_names_the_fix(
    router: respx.MockRouter,
) -> None:
    with pytest.raises(AmbiguousModelError) as caught:
        edit(client(plugins=[OTHER_PLUGIN]), "gpt-image-2")

    message = str(caught.value)
    assert f"{GPT}, other-gateway" in message
    assert "--provider" in message
    assert f'[routes] "gpt-image-2" = "{GPT}"' in message
    assert len(router.calls) == 0


def test_an_exact_route_picks_the_provider_and_its_key(router: respx.MockRouter) -> None:
    project_file('[routes]\n"gpt-image-2" = "other-gateway"\n')
    c = client({"OTHER_KEY": OTHER_KEY}, plugins=[OTHER_PLUGIN])

    result = edit(c, "gpt-image-2")

    sent = last(router)
    assert str(sent.url) == OTHER_URL
    assert sent.headers["authorization"] == f"Bearer {OTHER_KEY}"
    assert result.provider == "other-gateway"
    assert result.images[0].data == OUT


def test_a_route_covers_dated_snapshots_of_its_model(router: respx.MockRouter) -> None:
    project_file('[routes]\n"gpt-image-2" = "other-gateway"\n')

    edit(client({"OTHER_KEY": OTHER_KEY}, plugins=[OTHER_PLUGIN]), "gpt-image-2-2026-01-15")

    sent = last(router)
    assert str(sent.url) == OTHER_URL
    assert fields(sent)["model"] == "gpt-image-2-2026-01-15"


def test_exact_routes_beat_patterns_and_longer_patterns_beat_shorter(
    router: respx.MockRouter,
) -> None:
    project_file(
        f"""
        [routes]
        "gpt-*" = "{GPT}"
        "gpt-image-1*" = "other-gateway"
        "gpt-image-1-mini" = "{GPT}"
        """
    )
    c = client({"OTHER_KEY": OTHER_KEY}, plugins=[OTHER_PLUGIN])

    hosts = {}
    for model in ("gpt-image-2", "gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini"):
        edit(c, model)
        hosts[model] = last(router).url.host

    assert hosts == {
        "gpt-image-2": "api.cometapi.com",
        "gpt-image-1": "other.example",
        "gpt-image-1.5": "other.example",
        "gpt-image-1-mini": "api.cometapi.com",
    }


def test_an_explicit_provider_beats_a_route(router: respx.MockRouter) -> None:
    project_file('[routes]\n"gpt-image-2" = "other-gateway"\n')

    result = edit(client(plugins=[OTHER_PLUGIN]), "gpt-image-2", provider=GPT)

    assert str(last(router).url) == COMET_URL
    assert result.provider == GPT


def test_a_route_to_a_provider_that_does_not_serve_the_model_names_the_file(
    router: respx.MockRouter,
) -> None:
    path = project_file(f'[routes]\n"gpt-image-2" = "{QWEN}"\n')

    with pytest.raises(ConfigError) as caught:
        edit(client(), "gpt-image-2")

    message = str(caught.value)
    assert message.startswith(f"{path}: routes.gpt-image-2 ")
    assert f"sends 'gpt-image-2' to {QWEN}, which does not serve it" in message
    assert f"served by {GPT}" in message
    assert len(router.calls) == 0


def test_a_route_to_an_unknown_provider_names_the_file_and_the_known_ones(
    router: respx.MockRouter,
) -> None:
    path = project_file('[routes]\n"gpt-image-*" = "openai"\n')

    with pytest.raises(ConfigError) as caught:
        edit(client(), "gpt-image-2")

    message = str(caught.value)
    assert message.startswith(f"{path}: routes.gpt-image-* ")
    assert "'openai', which is neither installed nor configured" in message
    assert f"known providers: {GPT}, {QWEN}" in message
    assert len(router.calls) == 0


# -- provider instances -----------------------------------------------------------------------

INSTANCE = """
[providers.openai]
uses = "cometapi-gpt-image"
base_url = "https://openai.example/v1"
key_env = "OPENAI_API_KEY"
headers = { "OpenAI-Organization" = "org-test" }
"""


def test_an_instance_serves_the_same_models_under_its_own_name() -> None:
    project_file(INSTANCE)

    with client() as c:
        registry = c.registry

    names = [spec.name for spec in registry.provider("openai").models()]
    assert names == [spec.name for spec in registry.provider(GPT).models()]
    assert names == [spec.name for spec in GPT_MODELS]


def test_an_instance_takes_no_traffic_without_a_route_or_provider(
    router: respx.MockRouter,
) -> None:
    project_file(INSTANCE)

    result = edit(client({"OPENAI_API_KEY": OPENAI_KEY}), "gpt-image-2")

    sent = last(router)
    assert str(sent.url) == COMET_URL
    assert sent.headers["authorization"] == f"Bearer {COMET_KEY}"
    assert "openai-organization" not in sent.headers
    assert result.provider == GPT


@pytest.mark.parametrize("how", ["route", "provider"])
def test_a_routed_or_named_instance_uses_its_own_url_key_and_headers(
    how: str, router: respx.MockRouter
) -> None:
    project_file(INSTANCE + ('[routes]\n"gpt-image-2" = "openai"\n' if how == "route" else ""))
    env = {"OPENAI_API_KEY": OPENAI_KEY, "COMETAPI_BASE_URL": "https://comet-proxy.example/v1"}

    result = edit(client(env), "gpt-image-2", **({"provider": "openai"} if how != "route" else {}))

    sent = last(router)
    assert str(sent.url) == OPENAI_URL  # COMETAPI_BASE_URL is the base provider's, not its own
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.headers["openai-organization"] == "org-test"
    assert fields(sent)["model"] == "gpt-image-2"
    assert result.provider == "openai"


def test_an_instance_never_gets_another_providers_key(router: respx.MockRouter) -> None:
    project_file(INSTANCE)

    with pytest.raises(ConfigError) as caught:
        edit(client(), "gpt-image-2", provider="openai")  # only COMETAPI_KEY is set

    assert "no API key for provider openai" in str(caught.value)
    assert "OPENAI_API_KEY" in str(caught.value)
    assert len(router.calls) == 0


def test_errors_from_an_instance_carry_its_name(router: respx.MockRouter) -> None:
    project_file(INSTANCE + '[routes]\n"gpt-image-2" = "openai"\n')
    router.routes.clear()
    route = router.post(OPENAI_URL)
    c = client({"OPENAI_API_KEY": OPENAI_KEY}, max_retries=0)

    route.respond(401, json={"error": {"message": "Incorrect API key", "code": "invalid_api_key"}})
    with pytest.raises(AuthenticationError) as refused:
        edit(c)
    route.side_effect = httpx.ConnectError("connection refused")
    with pytest.raises(APIConnectionError) as unreachable:
        edit(c)

    assert refused.value.provider == "openai"
    assert str(refused.value).startswith("openai: Incorrect API key")
    assert unreachable.value.provider == "openai"
    assert str(unreachable.value).startswith("openai: ")
    assert OPENAI_KEY not in str(refused.value)


def test_an_instance_named_like_an_installed_provider_is_refused() -> None:
    path = project_file(
        f"""
        [providers.{QWEN}]
        uses = "{GPT}"
        base_url = "https://openai.example/v1"
        key_env = "OPENAI_API_KEY"
        """
    )

    with pytest.raises(ConfigError) as caught:
        client().resolve("gpt-image-2")

    message = str(caught.value)
    assert message.startswith(f"{path}: providers.{QWEN} ")
    assert "installed provider's name" in message
    assert "a name of its own" in message


def test_an_instance_of_an_unknown_provider_is_refused() -> None:
    path = project_file(
        """
        [providers.openai]
        uses = "openai-images"
        base_url = "https://openai.example/v1"
        key_env = "OPENAI_API_KEY"
        """
    )

    with pytest.raises(ConfigError) as caught:
        client().resolve("gpt-image-2")

    message = str(caught.value)
    assert message.startswith(f"{path}: providers.openai.uses names 'openai-images'")
    assert f"installed: {GPT}, {QWEN}" in message
    assert "imgedit plugins" in message


# -- headers ----------------------------------------------------------------------------------


def test_extra_headers_are_sent_and_cannot_replace_the_key(router: respx.MockRouter) -> None:
    project_file(
        """
        [providers.cometapi-gpt-image]
        headers = { "X-Title" = "imgedit", "Authorization" = "Bearer not-the-key" }
        """
    )

    edit(client(), "gpt-image-2")

    sent = last(router)
    assert sent.headers["x-title"] == "imgedit"
    assert sent.headers["authorization"] == f"Bearer {COMET_KEY}"


def test_a_config_object_or_a_path_can_be_given_to_the_client(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    path = write(tmp_path / "cfg" / "edits.toml", '[defaults]\nmodel = "gpt-image-1"\n')

    edit(client(config=load_config(path)))
    from_object = fields(last(router))["model"]
    edit(client(config=str(path)))
    from_path = fields(last(router))["model"]

    assert from_object == from_path == "gpt-image-1"

"""load_plugins: built-ins come through the entry-point group; a broken plugin hurts no other."""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import pytest

import imgedit_core
from imgedit_core import (
    Capabilities,
    Client,
    ModelSpec,
    PluginSet,
    Provider,
    hookimpl,
    load_plugins,
)
from imgedit_core import plugins as plugins_module

BUILTIN_PLUGINS = {
    "cometapi-gpt-image": "imgedit_cometapi_gpt.plugin",
    "cometapi-qwen-image-edit": "imgedit_cometapi_qwen.plugin",
}
BUILTIN_PROVIDERS = {"cometapi-gpt-image", "cometapi-qwen-image-edit"}


class ToyProvider(Provider):
    name = "toy"
    default_base_url = "https://toy.example/v1"

    def models(self) -> Sequence[ModelSpec]:
        return (ModelSpec(name="toy-edit", capabilities=Capabilities()),)


class OtherToyProvider(ToyProvider):
    name = "other-toy"

    def models(self) -> Sequence[ModelSpec]:
        return (ModelSpec(name="other-toy-edit", capabilities=Capabilities()),)


class NoModelsProvider(ToyProvider):
    name = "empty"

    def models(self) -> Sequence[ModelSpec]:
        return ()


@attrs.frozen
class FakeDist:
    name: str
    version: str


@attrs.frozen
class FakeEntryPoint:
    name: str
    value: str
    loader: Callable[[], object]
    dist: FakeDist | None = FakeDist("imgedit-thirdparty", "9.9")

    def load(self) -> object:
        return self.loader()


def module_plugin(name: str, **hooks: Callable[..., Any]) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, hookimpl(fn))
    return module


def registering(*providers: Provider) -> Callable[..., None]:
    def register_providers(register: Callable[[Provider], None]) -> None:
        for provider in providers:
            register(provider)

    return register_providers


def add_entry_points(monkeypatch: pytest.MonkeyPatch, *fakes: FakeEntryPoint) -> None:
    real = list(plugins_module._entry_points())
    monkeypatch.setattr(plugins_module, "_entry_points", lambda: [*real, *fakes])


def provider_names(result: PluginSet) -> set[str]:
    return {p.name for p in result.providers}


def failure(result: PluginSet, name: str) -> plugins_module.PluginFailure:
    found = [f for f in result.failures if f.name == name]
    assert len(found) == 1, result.failures
    return found[0]


# -- built-ins -------------------------------------------------------------------------------


def test_builtin_plugins_load_through_the_entry_point_group() -> None:
    result = load_plugins()
    assert result.failures == []
    assert provider_names(result) == BUILTIN_PROVIDERS
    by_name = {info.name: info for info in result.plugins}
    assert set(by_name) == set(BUILTIN_PLUGINS)
    for name, module in BUILTIN_PLUGINS.items():
        info = by_name[name]
        assert info.module == module
        assert info.distribution == "imgedit"
        assert info.version == imgedit_core.__version__
        assert info.providers == (name,)


def test_no_entry_points_loads_no_builtins() -> None:
    result = load_plugins(entry_points=False)
    assert result.providers == []
    assert result.plugins == []
    assert result.failures == []


def test_builtin_entry_points_are_listed_once() -> None:
    from importlib import metadata

    names = [(ep.name, ep.value) for ep in metadata.entry_points(group="imgedit")]
    for builtin in BUILTIN_PLUGINS.items():
        assert names.count(builtin) == 1, names


# -- extra plugins as objects and modules ----------------------------------------------------


def test_extra_plugin_module() -> None:
    toy = ToyProvider()
    result = load_plugins([module_plugin("toy_plugin", register_providers=registering(toy))])
    assert toy in result.providers
    assert provider_names(result) == {*BUILTIN_PROVIDERS, "toy"}
    info = next(i for i in result.plugins if i.name == "toy_plugin")
    assert info.providers == ("toy",)
    assert info.distribution is None


def test_extra_plugin_object_registering_two_providers() -> None:
    class TwoProviders:
        @hookimpl
        def register_providers(self, register: Callable[[Provider], None]) -> None:
            register(ToyProvider())
            register(OtherToyProvider())

    result = load_plugins([TwoProviders()], entry_points=False)
    assert [p.name for p in result.providers] == ["toy", "other-toy"]
    assert result.plugins[0].name == "TwoProviders-0"
    assert result.plugins[0].providers == ("toy", "other-toy")


def test_extra_plugin_models_reach_the_client() -> None:
    plugin = module_plugin("toy_plugin", register_providers=registering(ToyProvider()))
    client = Client(extra_plugins=[plugin])
    assert client.resolve("toy-edit").provider.name == "toy"
    assert client.resolve("gpt-image-2").provider.name == "cometapi-gpt-image"


def test_same_plugin_twice_is_refused_once() -> None:
    plugin = module_plugin("toy_plugin", register_providers=registering(ToyProvider()))
    result = load_plugins([plugin, plugin], entry_points=False)
    assert [p.name for p in result.providers] == ["toy"]
    bad = failure(result, "toy_plugin")
    assert bad.stage == "validate"
    assert "twice" in bad.error


# -- failures at each stage -------------------------------------------------------------------


def test_plugin_raising_at_import_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode() -> object:
        raise ImportError("No module named 'imgedit_broken_dep'")

    add_entry_points(monkeypatch, FakeEntryPoint("broken", "imgedit_broken.plugin", explode))
    result = load_plugins()
    bad = failure(result, "broken")
    assert bad.stage == "import"
    assert "ImportError" in bad.error
    assert "imgedit_broken_dep" in bad.error
    assert "Traceback" in bad.detail
    assert provider_names(result) == BUILTIN_PROVIDERS
    assert "broken" not in {i.name for i in result.plugins}


def test_import_failure_before_a_good_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode() -> object:
        raise SyntaxError("invalid syntax")

    good = module_plugin("good", register_providers=registering(ToyProvider()))
    monkeypatch.setattr(
        plugins_module,
        "_entry_points",
        lambda: [
            FakeEntryPoint("broken", "broken.plugin", explode),
            FakeEntryPoint("good", "good.plugin", lambda: good),
        ],
    )
    result = load_plugins()
    assert failure(result, "broken").stage == "import"
    assert provider_names(result) == {"toy"}
    info = next(i for i in result.plugins if i.name == "good")
    assert (info.distribution, info.version) == ("imgedit-thirdparty", "9.9")


def test_misspelled_hook_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    typo = module_plugin("typo", register_provider=registering(ToyProvider()))
    add_entry_points(monkeypatch, FakeEntryPoint("typo", "typo.plugin", lambda: typo))
    result = load_plugins()
    bad = failure(result, "typo")
    assert bad.stage == "validate"
    assert "register_provider" in bad.error
    assert provider_names(result) == BUILTIN_PROVIDERS


def test_misspelled_hook_does_not_block_later_plugins() -> None:
    typo = module_plugin("typo", register_provider=registering(OtherToyProvider()))
    good = module_plugin("good", register_providers=registering(ToyProvider()))
    result = load_plugins([typo, good], entry_points=False)
    assert failure(result, "typo").stage == "validate"
    assert provider_names(result) == {"toy"}


def test_hook_with_unknown_argument_is_caught() -> None:
    def register_providers(add: Callable[[Provider], None]) -> None:
        add(ToyProvider())

    bad_args = module_plugin("bad_args", register_providers=register_providers)
    result = load_plugins([bad_args], entry_points=False)
    bad = failure(result, "bad_args")
    assert bad.stage == "validate"
    assert "add" in bad.error
    assert result.providers == []


def test_plugin_without_any_hook_is_reported() -> None:
    # Forgetting @hookimpl leaves pluggy nothing to call: the plugin offers no provider.
    forgot = types.ModuleType("forgot_decorator")
    forgot.register_providers = registering(ToyProvider())  # type: ignore[attr-defined]
    result = load_plugins([forgot], entry_points=False)
    bad = failure(result, "forgot_decorator")
    assert bad.stage == "register"
    assert "hookimpl" in bad.error
    assert result.plugins == []
    assert result.providers == []


def test_provider_name_taken_by_an_earlier_plugin() -> None:
    first = module_plugin("first", register_providers=registering(ToyProvider()))
    second = module_plugin("second", register_providers=registering(ToyProvider()))
    result = load_plugins([first, second], entry_points=False)
    assert [p.name for p in result.providers] == ["toy"]
    assert [i.name for i in result.plugins] == ["first"]
    bad = failure(result, "second")
    assert bad.stage == "register"
    assert "'toy'" in bad.error
    assert "'first'" in bad.error


def test_hook_raising_keeps_nothing_from_that_plugin() -> None:
    def register_providers(register: Callable[[Provider], None]) -> None:
        register(OtherToyProvider())
        raise RuntimeError("config file missing")

    flaky = module_plugin("flaky", register_providers=register_providers)
    good = module_plugin("good", register_providers=registering(ToyProvider()))
    result = load_plugins([flaky, good])
    bad = failure(result, "flaky")
    assert bad.stage == "register"
    assert bad.error == "RuntimeError: config file missing"
    assert "other-toy" not in provider_names(result)
    assert provider_names(result) == {*BUILTIN_PROVIDERS, "toy"}
    assert "flaky" not in {i.name for i in result.plugins}


def test_register_with_a_non_provider_is_a_failure() -> None:
    not_a_provider = module_plugin(
        "wrong_type",
        register_providers=registering("cometapi-gpt-image"),  # type: ignore[arg-type]
    )
    result = load_plugins([not_a_provider], entry_points=False)
    bad = failure(result, "wrong_type")
    assert bad.stage == "register"
    assert "TypeError" in bad.error
    assert "Provider" in bad.error
    assert "str" in bad.error
    assert result.providers == []


def test_partial_registration_is_rolled_back_on_bad_provider() -> None:
    mixed = module_plugin("mixed", register_providers=registering(ToyProvider(), object()))  # type: ignore[arg-type]
    result = load_plugins([mixed], entry_points=False)
    assert failure(result, "mixed").stage == "register"
    assert result.providers == []


def test_provider_without_models_is_a_failure() -> None:
    empty = module_plugin("empty_plugin", register_providers=registering(NoModelsProvider()))
    result = load_plugins([empty], entry_points=False)
    bad = failure(result, "empty_plugin")
    assert bad.stage == "register"
    assert "models()" in bad.error


def test_client_keeps_working_with_a_broken_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode() -> object:
        raise RuntimeError("boom")

    add_entry_points(monkeypatch, FakeEntryPoint("broken", "broken.plugin", explode))
    client = Client(api_key="sk-unused")
    assert [f.name for f in client.plugins.failures] == ["broken"]
    assert client.resolve("qwen-image-edit").provider.name == "cometapi-qwen-image-edit"


# -- IMGEDIT_LOAD_PLUGINS ----------------------------------------------------------------------


def test_load_plugins_env_limits_by_entry_point_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEDIT_LOAD_PLUGINS", "cometapi-gpt-image")
    result = load_plugins()
    assert provider_names(result) == {"cometapi-gpt-image"}
    assert [i.name for i in result.plugins] == ["cometapi-gpt-image"]


def test_load_plugins_env_several_names_with_spaces() -> None:
    env = {"IMGEDIT_LOAD_PLUGINS": " cometapi-qwen-image-edit , cometapi-gpt-image ,"}
    assert provider_names(load_plugins(environ=env)) == BUILTIN_PROVIDERS


def test_load_plugins_env_by_distribution_name() -> None:
    result = load_plugins(environ={"IMGEDIT_LOAD_PLUGINS": "imgedit"})
    assert provider_names(result) == BUILTIN_PROVIDERS


def test_load_plugins_env_empty_loads_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEDIT_LOAD_PLUGINS", "")
    result = load_plugins()
    assert result.providers == []
    assert result.plugins == []
    assert result.failures == []


def test_load_plugins_env_skips_broken_ones_without_importing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode() -> object:
        raise AssertionError("a plugin left out by IMGEDIT_LOAD_PLUGINS was imported")

    add_entry_points(monkeypatch, FakeEntryPoint("broken", "broken.plugin", explode))
    result = load_plugins(environ={"IMGEDIT_LOAD_PLUGINS": "cometapi-qwen-image-edit"})
    assert result.failures == []
    assert provider_names(result) == {"cometapi-qwen-image-edit"}


def test_load_plugins_env_unknown_model_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEDIT_LOAD_PLUGINS", "cometapi-qwen-image-edit")
    client = Client(api_key="sk-unused")
    with pytest.raises(imgedit_core.UnknownModelError) as caught:
        client.resolve("gpt-image-2")
    assert "qwen-image-edit" in str(caught.value)


def test_client_environ_overrides_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEDIT_LOAD_PLUGINS", "")
    client = Client(environ={"IMGEDIT_LOAD_PLUGINS": "cometapi-gpt-image"})
    assert provider_names(client.plugins) == {"cometapi-gpt-image"}


# -- the fast entry-point scan agrees with importlib.metadata ----------------------------------


@pytest.mark.parametrize("group", ["imgedit", "console_scripts", "pytest11"])
def test_fast_entry_point_scan_finds_what_importlib_metadata_finds(group: str) -> None:
    from imgedit_core import entrypoints

    fast = entrypoints._scan(group)
    assert fast is not None, "the scan deferred to importlib.metadata on a plain venv"
    slow = metadata.entry_points(group=group)
    assert sorted((ep.name, ep.value) for ep in fast) == sorted((ep.name, ep.value) for ep in slow)
    by_name = {ep.name: ep for ep in slow}
    for ep in fast:
        assert ep.dist is not None
        assert (ep.dist.name, ep.dist.version) == (
            by_name[ep.name].dist.name,
            by_name[ep.name].dist.version,
        )


def test_fast_entry_points_load_like_importlib_ones() -> None:
    from imgedit_core import entrypoints

    (gpt,) = [ep for ep in entrypoints.entry_points("imgedit") if ep.name == "cometapi-gpt-image"]
    import imgedit_cometapi_gpt.plugin

    assert gpt.load() is imgedit_cometapi_gpt.plugin
    ep = entrypoints.EntryPoint("x", "imgedit_core.cli.main:cli.name [extra]", "g", None)
    from imgedit_core.cli.main import cli

    assert ep.load() == cli.name


def test_entry_point_sections_are_read_as_importlib_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgedit_core import entrypoints

    for folder, body in (
        (
            "acme_plugin-1.0.dist-info",
            "# comment\n[imgedit]\n  acme = acme.plugin  \n; other\n[other]\nno = x\n",
        ),
        ("Acme.Plugin-2.0.dist-info", "[imgedit]\nshadowed = acme2.plugin\n"),  # same name, later
    ):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "entry_points.txt").write_text(body)
        (tmp_path / folder / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.0\n\nbody\n"
        )
    monkeypatch.setattr("sys.path", [str(tmp_path)])
    found = entrypoints._scan("imgedit")
    assert found is not None
    # Two folders of one distribution name: one is read, as importlib.metadata reads one.
    assert [(ep.name, ep.value) for ep in found] in (
        [("acme", "acme.plugin")],
        [("shadowed", "acme2.plugin")],
    )
    assert found[0].dist is not None
    assert found[0].dist.name == "acme-plugin"


def test_a_zip_on_the_path_defers_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgedit_core import entrypoints

    archive = tmp_path / "bundle.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))
    monkeypatch.setattr("sys.path", [str(archive), *__import__("sys").path])
    assert entrypoints._scan("imgedit") is None
    assert {ep.name for ep in entrypoints.entry_points("imgedit")} >= {"cometapi-gpt-image"}

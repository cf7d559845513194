"""Registry.resolve: one provider per model name, or an error that says why not."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from imgedit_cometapi_gpt import CometGPTImageProvider
from imgedit_cometapi_qwen import CometQwenImageEditProvider
from imgedit_core import (
    AmbiguousModelError,
    Capabilities,
    Client,
    ModelSpec,
    Provider,
    Registry,
    UnknownModelError,
    UnknownProviderError,
)

GPT = CometGPTImageProvider()
QWEN = CometQwenImageEditProvider()


class FakeProvider(Provider):
    default_base_url = "https://fake.example/v1"

    def __init__(self, name: str, *specs: ModelSpec) -> None:
        self.name = name  # type: ignore[misc]
        self._specs = specs

    def models(self) -> Sequence[ModelSpec]:
        return self._specs


def spec(name: str, *aliases: str, dated: bool = True) -> ModelSpec:
    return ModelSpec(name=name, capabilities=Capabilities(), aliases=aliases, dated_snapshots=dated)


@pytest.fixture
def builtin() -> Registry:
    return Registry([GPT, QWEN])


# -- exact names and dated snapshots ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-image-2", "cometapi-gpt-image"),
        ("gpt-image-1", "cometapi-gpt-image"),
        ("gpt-image-1.5", "cometapi-gpt-image"),
        ("gpt-image-1-mini", "cometapi-gpt-image"),
        ("qwen-image-edit", "cometapi-qwen-image-edit"),
        ("qwen-image-edit-plus", "cometapi-qwen-image-edit"),
        ("qwen-image-edit-max", "cometapi-qwen-image-edit"),
    ],
)
def test_exact_names(builtin: Registry, model: str, provider: str) -> None:
    resolved = builtin.resolve(model)
    assert resolved.provider.name == provider
    assert resolved.spec.name == model
    assert resolved.model == model


def test_mini_is_not_mistaken_for_gpt_image_1(builtin: Registry) -> None:
    assert builtin.resolve("gpt-image-1-mini").spec.name == "gpt-image-1-mini"
    assert builtin.resolve("gpt-image-1").spec.name == "gpt-image-1"


@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("gpt-image-2-2026-04-21", "gpt-image-2"),
        ("gpt-image-1-2025-04-15", "gpt-image-1"),
        ("gpt-image-1-mini-2025-10-06", "gpt-image-1-mini"),
        ("qwen-image-edit-plus-2025-10-30", "qwen-image-edit-plus"),
    ],
)
def test_dated_snapshot_sent_as_given(builtin: Registry, model: str, base: str) -> None:
    resolved = builtin.resolve(model)
    assert resolved.spec.name == base
    assert resolved.model == model
    assert resolved.spec.capabilities is not None


def test_dated_snapshot_needs_a_full_date(builtin: Registry) -> None:
    with pytest.raises(UnknownModelError):
        builtin.resolve("gpt-image-2-2026-04")


def test_dated_snapshots_can_be_disabled() -> None:
    registry = Registry([FakeProvider("p", spec("fixed-model", dated=False))])
    assert registry.resolve("fixed-model").model == "fixed-model"
    with pytest.raises(UnknownModelError):
        registry.resolve("fixed-model-2026-01-01")


# -- aliases --------------------------------------------------------------------------------


def test_alias_is_sent_as_canonical_name() -> None:
    registry = Registry([FakeProvider("p", spec("image-edit-pro", "iep", "pro"))])
    for name in ("iep", "pro", "image-edit-pro"):
        resolved = registry.resolve(name)
        assert resolved.spec.name == "image-edit-pro"
        assert resolved.model == "image-edit-pro"


def test_exact_name_beats_another_providers_dated_claim() -> None:
    # "x-2026-01-01" is a model of its own at one provider, and a dated "x" at the other.
    a = FakeProvider("a", spec("x"))
    b = FakeProvider("b", spec("x-2026-01-01"))
    resolved = Registry([a, b]).resolve("x-2026-01-01")
    assert resolved.provider.name == "b"


# -- unknown models -------------------------------------------------------------------------


def test_unknown_model_lists_known_and_close_matches(builtin: Registry) -> None:
    with pytest.raises(UnknownModelError) as caught:
        builtin.resolve("gpt-image2")
    err = caught.value
    message = str(err)
    assert "'gpt-image2'" in message
    assert "gpt-image-2" in err.close
    assert "Did you mean: gpt-image-2" in message
    for name in ("gpt-image-1", "gpt-image-1-mini", "qwen-image-edit", "qwen-image-edit-max"):
        assert name in err.known
        assert name in message
    assert "imgedit models" in message


def test_unknown_model_close_match_for_qwen_typo(builtin: Registry) -> None:
    with pytest.raises(UnknownModelError) as caught:
        builtin.resolve("qwen-image-edti")
    assert caught.value.close[0] == "qwen-image-edit"


def test_unknown_model_with_nothing_close(builtin: Registry) -> None:
    with pytest.raises(UnknownModelError) as caught:
        builtin.resolve("dall-e-2")
    assert caught.value.close == []
    assert "Did you mean" not in str(caught.value)
    assert "gpt-image-2" in str(caught.value)


def test_unknown_model_with_no_providers_says_so() -> None:
    with pytest.raises(UnknownModelError) as caught:
        Registry([]).resolve("gpt-image-2")
    assert "No provider plugin is loaded" in str(caught.value)
    assert "imgedit plugins" in str(caught.value)


def test_close_matches_include_aliases() -> None:
    registry = Registry([FakeProvider("p", spec("image-edit-pro", "iep-fast"))])
    with pytest.raises(UnknownModelError) as caught:
        registry.resolve("iep-fats")
    assert "iep-fast" in caught.value.close


# -- ambiguity and provider= -----------------------------------------------------------------


def test_two_providers_claiming_one_model() -> None:
    other = FakeProvider("other-gateway", spec("gpt-image-2"))
    registry = Registry([GPT, other])
    with pytest.raises(AmbiguousModelError) as caught:
        registry.resolve("gpt-image-2")
    message = str(caught.value)
    assert "'gpt-image-2'" in message
    assert "cometapi-gpt-image" in message
    assert "other-gateway" in message
    assert "--provider" in message
    assert caught.value.providers == ["cometapi-gpt-image", "other-gateway"]


def test_dated_snapshot_claimed_by_two_providers_is_ambiguous() -> None:
    other = FakeProvider("other-gateway", spec("gpt-image-2"))
    with pytest.raises(AmbiguousModelError):
        Registry([GPT, other]).resolve("gpt-image-2-2026-04-21")


def test_alias_shared_with_another_providers_name_is_ambiguous() -> None:
    other = FakeProvider("other-gateway", spec("gpt2-edit", "gpt-image-2"))
    with pytest.raises(AmbiguousModelError):
        Registry([GPT, other]).resolve("gpt-image-2")


def test_provider_disambiguates() -> None:
    other = FakeProvider("other-gateway", spec("gpt-image-2"))
    registry = Registry([GPT, other])
    assert registry.resolve("gpt-image-2", provider="other-gateway").provider is other
    resolved = registry.resolve("gpt-image-2-2026-04-21", provider="cometapi-gpt-image")
    assert resolved.provider is GPT
    assert resolved.model == "gpt-image-2-2026-04-21"


def test_provider_limits_the_search(builtin: Registry) -> None:
    with pytest.raises(UnknownModelError) as caught:
        builtin.resolve("qwen-image-edit", provider="cometapi-gpt-image")
    assert "qwen-image-edit" not in caught.value.known
    assert "gpt-image-2" in caught.value.known


def test_unknown_provider(builtin: Registry) -> None:
    with pytest.raises(UnknownProviderError) as caught:
        builtin.resolve("gpt-image-2", provider="openai")
    message = str(caught.value)
    assert "'openai'" in message
    assert "cometapi-gpt-image" in message
    assert "cometapi-qwen-image-edit" in message


def test_unknown_provider_with_none_loaded() -> None:
    with pytest.raises(UnknownProviderError, match="Loaded providers: none"):
        Registry([]).provider("openai")


def test_first_provider_of_a_name_wins() -> None:
    first = FakeProvider("dup", spec("one"))
    second = FakeProvider("dup", spec("two"))
    registry = Registry([first, second])
    assert registry.providers == [first]
    assert registry.resolve("one").provider is first


# -- through the client ----------------------------------------------------------------------


def test_client_resolves_builtin_models_and_default() -> None:
    client = Client(api_key="sk-unused")
    assert client.resolve("gpt-image-2-2026-04-21").model == "gpt-image-2-2026-04-21"
    assert client.resolve().model == "gpt-image-2"


def test_client_default_model_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEDIT_MODEL", "qwen-image-edit")
    assert Client().resolve().provider.name == "cometapi-qwen-image-edit"


def test_wrong_case_is_unknown_but_suggests_the_right_spelling() -> None:

    registry = Registry([CometGPTImageProvider()])
    with pytest.raises(UnknownModelError) as caught:
        registry.resolve("GPT-Image-2")
    assert caught.value.close[0] == "gpt-image-2"
    assert "Did you mean: gpt-image-2" in str(caught.value)

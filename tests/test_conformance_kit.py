"""The conformance kit can fail: deliberately broken providers fail the test that names the flaw.

Each case writes a third party's test module (a provider plus ``ProviderConformance``), runs
pytest on it, and checks which kit tests failed.
"""

from __future__ import annotations

import re
import textwrap

import pytest

PROVIDER_MODULE = '''
import httpx

from imgedit_core import Capabilities, ModelSpec
from imgedit_core.errors import APIError
from imgedit_core.openai_compat import OpenAICompatibleProvider, build_multipart_edit, form_value
from imgedit_core.sentinel import is_given
from imgedit_core.testing import ProviderConformance


class MinimalProvider(OpenAICompatibleProvider):
    name = "acme-edit"
    default_base_url = "https://api.acme.test/v1"
    key_env = "ACME_KEY"

    def models(self):
        return [ModelSpec(name="acme-1", capabilities=Capabilities(max_n=2))]


class OctetStreamProvider(MinimalProvider):
    """Rebuilds every file part as application/octet-stream: the route refuses those."""

    def build_request(self, request, settings):
        built = super().build_request(request, settings)
        part = "image" if len(request.images) == 1 else "image[]"
        files = [
            (part, (i.filename, i.read(), "application/octet-stream")) for i in request.images
        ]
        if is_given(request.mask):
            files.append(("mask", (request.mask.filename, request.mask.read(),
                                   "application/octet-stream")))
        data = {k: form_value(v) for k, v in self.form_fields(request).items()}
        headers = {"Authorization": built.headers["Authorization"]}
        return httpx.Request("POST", built.url, data=data, files=files, headers=headers)


class ResponseFormatProvider(MinimalProvider):
    """Always sends response_format, which GPT image models answer with a 400."""

    def form_fields(self, request):
        return {**super().form_fields(request), "response_format": "b64_json"}


class UntypedErrorProvider(MinimalProvider):
    """Maps every error status to a plain APIError."""

    def parse_error(self, response):
        return APIError("something failed", status=response.status_code)


class KeyInQueryProvider(MinimalProvider):
    """Sends the key in the URL query instead of a header."""

    def build_request(self, request, settings):
        keyless = type(settings)(base_url=settings.base_url)
        built = build_multipart_edit(request, keyless, fields=self.form_fields(request))
        built.url = built.url.copy_merge_params({"api_key": settings.api_key})
        return built
'''

# The kit's tests for a b64-only, one-image, mask-less model with one model declared.
KIT_TESTS = {
    "test_declares_models",
    "test_build_does_not_send",
    "test_request_target_and_auth",
    "test_file_parts_carry_name_and_type",
    "test_several_images_go_as_one_part_each",
    "test_mask_part",
    "test_unset_options_are_not_sent",
    "test_given_options_are_sent",
    "test_capabilities_refuse_before_sending",
    "test_missing_key_is_a_config_error",
    "test_parses_b64_answer",
    "test_parses_url_answer_and_downloads",
    "test_parse_is_lenient",
    "test_malformed_answers_are_invalid_response",
    "test_error_statuses_map_to_typed_errors",
    "test_errors_through_the_client",
    "test_edit_end_to_end",
}
# These run once with Client and once with AsyncClient: sync and async pass the same suite.
FLAVOURED = {
    "test_capabilities_refuse_before_sending",
    "test_missing_key_is_a_config_error",
    "test_parses_url_answer_and_downloads",
    "test_errors_through_the_client",
    "test_edit_end_to_end",
}
SKIPPED_TESTS = {"test_several_images_go_as_one_part_each", "test_mask_part"} | {
    "test_parses_url_answer_and_downloads"
}  # the model declares several images, masks and URL answers: none of them


def runs(tests: set[str]) -> int:
    """How many test items these tests make (two for the sync/async ones)."""
    return sum(2 if name in FLAVOURED else 1 for name in tests)


SKIPPED = runs(SKIPPED_TESTS)


@pytest.fixture
def kit(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # The inner run needs no installed pytest plugins; skipping them halves its time.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


def run_kit(pytester: pytest.Pytester, provider: str) -> tuple[pytest.RunResult, set[str]]:
    pytester.makepyfile(
        acme_providers=PROVIDER_MODULE,
        test_acme=textwrap.dedent(
            f"""
            from acme_providers import {provider}
            from imgedit_core.testing import ProviderConformance


            class TestAcme(ProviderConformance):
                provider = {provider}()
            """
        ),
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rf")
    failed = {
        match.group(1)
        for match in re.finditer(r"^FAILED \S+::TestAcme::(test_\w+)", result.stdout.str(), re.M)
    }
    return result, failed


def test_a_correct_provider_passes_everything(kit: pytest.Pytester) -> None:
    result, failed = run_kit(kit, "MinimalProvider")

    result.assert_outcomes(passed=runs(KIT_TESTS) - SKIPPED, skipped=SKIPPED)
    assert failed == set()


@pytest.mark.parametrize(
    ("provider", "expected_failures", "evidence"),
    [
        ("OctetStreamProvider", {"test_file_parts_carry_name_and_type"}, "content_type"),
        (
            "ResponseFormatProvider",
            {"test_unset_options_are_not_sent"},
            "sent fields nobody set: {'response_format'}",
        ),
        (
            "UntypedErrorProvider",
            {"test_error_statuses_map_to_typed_errors", "test_errors_through_the_client"},
            "HTTP 400 gave APIError",
        ),
        (
            "KeyInQueryProvider",
            {"test_request_target_and_auth"},
            "the API key must never be in the URL",
        ),
    ],
)
def test_a_broken_provider_fails_the_test_for_its_flaw(
    kit: pytest.Pytester, provider: str, expected_failures: set[str], evidence: str
) -> None:
    result, failed = run_kit(kit, provider)

    assert failed == expected_failures, result.stdout.str()
    assert evidence in result.stdout.str()
    result.assert_outcomes(
        passed=runs(KIT_TESTS) - SKIPPED - runs(expected_failures),
        failed=runs(expected_failures),
        skipped=SKIPPED,
    )

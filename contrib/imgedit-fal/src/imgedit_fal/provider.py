"""The fal provider: ``POST {base}/fal-ai/<endpoint>`` with a JSON body and ``Authorization: Key``.

It uses fal's synchronous host, fal.run, because the core's transport sends one request and
reads one answer. fal's queue API (submit, poll, fetch) is sturdier for long edits, but the
provider contract has no way to express polling; see the README.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

import imgedit_core
from imgedit_core import APIError, EditRequest, EditResult, ModelSpec, Provider, ProviderSettings

from ._version import __version__
from .answer import parse_answer
from .body import build_body
from .errors import parse_fal_error
from .models import FAL_RUN_URL, MODELS, endpoint_for

USER_AGENT = f"imgedit-fal/{__version__} imgedit/{imgedit_core.__version__}"


class FalProvider(Provider):
    """fal.ai's hosted qwen-image-edit endpoints; the key is ``FAL_KEY``, as fal's clients use."""

    name = "fal"
    description = "fal.ai: Alibaba qwen-image-edit models (JSON API; URL or data-URI answers)"
    default_base_url = FAL_RUN_URL
    base_url_env = "FAL_BASE_URL"
    key_env = "FAL_KEY"

    def models(self) -> Sequence[ModelSpec]:
        return MODELS

    def build_request(self, request: EditRequest, settings: ProviderSettings) -> httpx.Request:
        endpoint = endpoint_for(request.model)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **settings.headers}
        if settings.api_key:
            headers["Authorization"] = f"Key {settings.api_key}"  # fal's scheme, not Bearer
        return httpx.Request(
            "POST",
            f"{settings.base_url.rstrip('/')}/{endpoint.path}",
            json=build_body(request, endpoint),
            headers=headers,
        )

    def parse_response(self, response: httpx.Response, request: EditRequest) -> EditResult:
        return parse_answer(response, request, provider=self.name)

    def parse_error(self, response: httpx.Response) -> APIError:
        return parse_fal_error(response, provider=self.name)

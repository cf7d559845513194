"""GPT image models behind CometAPI's OpenAI-compatible ``POST /v1/images/edits``.

GPT image models refuse ``response_format`` (400 unknown_parameter); their capabilities declare
no response formats, so the core refuses the field before it can reach the wire.
"""

from __future__ import annotations

from collections.abc import Sequence

from imgedit_core import ModelSpec, OpenAICompatibleProvider

from .models import MODELS

COMETAPI_BASE_URL = "https://api.cometapi.com/v1"


class CometGPTImageProvider(OpenAICompatibleProvider):
    name = "cometapi-gpt-image"
    description = "CometAPI: OpenAI GPT image models (b64_json output)"
    default_base_url = COMETAPI_BASE_URL
    base_url_env = "COMETAPI_BASE_URL"
    key_env = "COMETAPI_KEY"

    def models(self) -> Sequence[ModelSpec]:
        return MODELS

"""qwen-image-edit behind CometAPI's ``POST /v1/images/edits``: URL answers, no mask."""

from __future__ import annotations

from collections.abc import Sequence

from imgedit_core import ModelSpec, OpenAICompatibleProvider

from .models import MODELS

COMETAPI_BASE_URL = "https://api.cometapi.com/v1"


class CometQwenImageEditProvider(OpenAICompatibleProvider):
    name = "cometapi-qwen-image-edit"
    description = "CometAPI: Alibaba qwen-image-edit models (URL output)"
    default_base_url = COMETAPI_BASE_URL
    base_url_env = "COMETAPI_BASE_URL"
    key_env = "COMETAPI_KEY"

    def models(self) -> Sequence[ModelSpec]:
        return MODELS

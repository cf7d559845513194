"""Both built-in providers pass the conformance kit third parties use."""

from __future__ import annotations

from imgedit_cometapi_gpt import CometGPTImageProvider
from imgedit_cometapi_qwen import CometQwenImageEditProvider
from imgedit_core.testing import ProviderConformance


class TestCometGPTImage(ProviderConformance):
    provider = CometGPTImageProvider()


class TestCometQwenImageEdit(ProviderConformance):
    provider = CometQwenImageEditProvider()
    extra_values = {"watermark": False}

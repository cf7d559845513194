"""The fal provider passes the core's conformance kit, told where fal's JSON wire differs.

fal names the model in the URL, takes images as data URIs under ``image_url``/``image_urls``
(so no filenames), renames a few options, and answers and fails in its own shapes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from imgedit_fal import ENDPOINTS, FalProvider, endpoint_for
from imgedit_fal.body import WIRE_NAMES

from imgedit_core import EditRequest
from imgedit_core.testing import ProviderConformance, WireRequest


def fal_answer(images: list[bytes], *, urls: list[str] | None, prompt: str) -> dict[str, Any]:
    """A fal answer as its schema describes it: URLs, or data URIs under sync_mode."""
    items = [
        {
            "url": urls[i] if urls else f"data:image/png;base64,{base64.b64encode(img).decode()}",
            "content_type": "image/png",
            "file_name": f"{i}.png",
            "file_size": len(img),
            "width": 32,
            "height": 32,
        }
        for i, img in enumerate(images)
    ]
    return {
        "images": items,
        "timings": {"inference": 2.5},
        "seed": 1234,
        "has_nsfw_concepts": [False] * len(images),
        "prompt": prompt,
    }


class TestFal(ProviderConformance):
    provider = FalProvider()
    base_url = "https://conformance.imgedit.test"  # like fal.run: endpoints hang off the root
    always_sent = frozenset({"prompt"})  # the model is in the URL
    wire_names = WIRE_NAMES
    sends_filenames = False  # data URIs carry none
    extra_values = {
        "seed": 42,
        "negative_prompt": "blurry, low quality",
        "guidance_scale": 4.5,
        "num_inference_steps": 30,
        "enable_safety_checker": False,
        "acceleration": "regular",
    }

    def image_part(self, model: str, count: int) -> str:
        return endpoint_for(model).image_key

    def wire_model(self, wire: WireRequest) -> str | None:
        path = httpx.URL(wire.url).path.lstrip("/")
        return next((name for name, e in ENDPOINTS.items() if e.path == path), None)

    def wire_value(self, field: str, value: Any) -> str:
        if field == "response_format":  # sent as sync_mode
            return json.dumps(value == "b64_json")
        return super().wire_value(field, value)

    def success_response(
        self, model: str, request: EditRequest, images: list[bytes], *, as_url: bool
    ) -> httpx.Response:
        urls = [self.output_url.format(index=i) for i in range(len(images))] if as_url else None
        return httpx.Response(200, json=fal_answer(images, urls=urls, prompt=request.prompt))

    def error_response(self, status: int, message: str, code: str) -> httpx.Response:
        if status >= 500:  # the platform's flat shape, with its header
            body: dict[str, Any] = {"detail": message, "error_type": code}
            return httpx.Response(status, json=body, headers={"X-Fal-Error-Type": code})
        error = {
            "loc": ["body", "prompt"],
            "msg": message,
            "type": code,
            "url": f"https://docs.fal.ai/errors#{code}",
        }
        return httpx.Response(status, json={"detail": [error]})

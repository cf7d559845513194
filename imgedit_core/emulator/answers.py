"""Success bodies shaped like the route's (``gpt-image-2-ok.json``, ``qwen-image-edit-ok.json``).

Usage is deterministic and shaped like the real one, but it is an estimate for tests, not a
bill: text tokens are characters / 4, image tokens follow the tile rule of OpenAI's vision
models, output tokens scale the 1024x1024 figures for each quality by the output's area.
"""

from __future__ import annotations

import base64
import hashlib
import math
from typing import Any

from .rules import EditPlan

#: Output tokens per 1024x1024 image, by (resolved) quality.
OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160}


def image_tokens(width: int, height: int) -> int:
    """85 + 170 per 512px tile, after fitting in 2048x2048 and the short side in 768."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def gpt_usage(plan: EditPlan, *, aggregator: bool = False) -> dict[str, Any]:
    text = max(1, math.ceil(len(plan.prompt) / 4))
    images = sum(image_tokens(w, h) for w, h in plan.image_sizes)
    per_image = OUTPUT_TOKENS_1024[plan.quality] * plan.size[0] * plan.size[1] / 1024**2
    output = round(per_image) * plan.n
    total = text + images + output
    if aggregator:  # gpt-image-aggregator-extras.json
        return {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": total,
            "input_tokens": text + images,
            "output_tokens": output,
            "prompt_tokens_details": {"cached_tokens_details": {}},
            "completion_tokens_details": {},
            "input_tokens_details": {
                "image_tokens": images,
                "text_tokens": text,
                "cached_tokens_details": {},
            },
            "claude_cache_creation_5_m_tokens": 0,
            "claude_cache_creation_1_h_tokens": 0,
        }
    return {
        "input_tokens": text + images,
        "input_tokens_details": {"image_tokens": images, "text_tokens": text},
        "output_tokens": output,
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        "total_tokens": total,
    }


def gpt_answer(
    plan: EditPlan, outputs: list[bytes], *, created: int, aggregator: bool = False
) -> dict[str, Any]:
    """``data[].b64_json`` in the requested format; the aggregator's shape leaves out the
    top-level background/output_format/quality/size and adds its own usage fields."""
    data = [{"b64_json": base64.b64encode(image).decode()} for image in outputs]
    if aggregator:
        return {"created": created, "usage": gpt_usage(plan, aggregator=True), "data": data}
    return {
        "created": created,
        "background": plan.background,
        "output_format": plan.output_format,
        "quality": plan.quality,
        "size": plan.size_label,
        "usage": gpt_usage(plan),
        "data": data,
    }


def qwen_answer(
    plan: EditPlan, outputs: list[bytes], urls: list[str], *, created: int
) -> dict[str, Any]:
    """``data[].url`` (plus ``b64_json`` when asked), the raw upstream body under ``metadata``,
    and empty usage, as the gateway answers."""
    data: list[dict[str, str]] = []
    for image, url in zip(outputs, urls, strict=True):
        item = {"url": url}
        if plan.response_format == "b64_json":
            item["b64_json"] = base64.b64encode(image).decode()
        data.append(item)
    digest = hashlib.sha256(b"".join(outputs)).hexdigest()
    return {
        "created": created,
        "data": data,
        "metadata": {
            "output": {
                "choices": [
                    {
                        "finish_reason": "stop",
                        "message": {
                            "role": "assistant",
                            "content": [{"image": url} for url in urls],
                        },
                    }
                ]
            },
            "usage": {"width": plan.size[0], "height": plan.size[1], "image_count": len(urls)},
            "request_id": _uuid_shaped(digest),
        },
        "usage": {},
    }


def _uuid_shaped(digest: str) -> str:
    """A request id shaped like DashScope's (a UUID), derived from the outputs."""
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

"""fal's successful answer, ``{"images": [{"url", "content_type", ...}], "seed", ...}``, as an
EditResult. URLs are downloaded by the client when read; data URIs (sync_mode) decode lazily.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from imgedit_core import EditedImage, EditRequest, EditResult, InvalidResponseError
from imgedit_core.media import FORMAT_MEDIA_TYPES
from imgedit_core.openai_compat import load_json_object
from imgedit_core.result import url_without_query
from imgedit_core.sentinel import is_given

from .models import FAL_RUN_URL

_FORMATS = {media_type: fmt for fmt, media_type in FORMAT_MEDIA_TYPES.items()}


def parse_answer(response: httpx.Response, request: EditRequest, *, provider: str) -> EditResult:
    """Read the answer leniently: every top-level field but ``images`` is kept in metadata,
    so ``seed``, ``has_nsfw_concepts``, ``timings`` and fields fal adds later survive."""
    # unconfirmed: seed, has_nsfw_concepts, timings and prompt at the top level come from a copy
    # of the endpoint's schema (the Image fields are in fal-js's generated types); all are kept.
    body = load_json_object(response, provider=provider)
    items = body.get("images")
    if not isinstance(items, list) or not items:
        raise InvalidResponseError(
            _why_no_images(body), status=response.status_code, provider=provider
        )
    requested = request.output_format if is_given(request.output_format) else None
    fallback = FORMAT_MEDIA_TYPES.get(requested) if isinstance(requested, str) else None
    images = [_image(item, fallback, provider) for item in items]
    first = items[0]
    return EditResult(
        images=images,
        model=request.model,
        provider=provider,
        size=_size(first),
        output_format=requested or _FORMATS.get(str(first.get("content_type"))),
        metadata={key: value for key, value in body.items() if key != "images"},
    )


def _why_no_images(body: Mapping[str, Any]) -> str:
    if "request_id" in body and "status" in body:
        # A queue ticket: the base URL points at queue.fal.run, whose results must be polled.
        return (
            f"the answer is a queue ticket (status {body['status']!r}), not a result: the base "
            f"URL points at fal's queue API, which imgedit-fal does not poll. Set FAL_BASE_URL "
            f"to {FAL_RUN_URL}, or unset it"
        )
    keys = ", ".join(sorted(map(str, body))) or "nothing"
    return f"the answer has no images (no 'images' list; it holds {keys})"


def _image(item: Any, fallback: str | None, provider: str) -> EditedImage:
    if not isinstance(item, Mapping):
        raise InvalidResponseError(
            f"an entry of 'images' is {type(item).__name__}, not an object", provider=provider
        )
    url = item.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidResponseError("an entry of 'images' has no 'url'", provider=provider)
    content_type = item.get("content_type")
    declared = content_type if isinstance(content_type, str) and content_type else fallback
    # unconfirmed: that sync_mode's data URIs are base64 (a plain one fails to decode, loudly).
    if url.startswith("data:"):  # sync_mode: the image itself in a data URI
        return EditedImage(b64_json=url, declared_media_type=declared)
    if url.startswith(("https://", "http://")):
        return EditedImage(url=url, declared_media_type=declared)
    raise InvalidResponseError(
        f"an image in the answer has neither an http(s) nor a data URL: "
        f"{url_without_query(url)[:60]!r}",
        provider=provider,
    )


def _size(item: Mapping[str, Any]) -> str | None:
    width, height = item.get("width"), item.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return f"{width}x{height}"
    return None

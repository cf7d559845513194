"""The OpenAI-style image edit wire format, written once for every compatible provider.

CometAPI, OpenAI and many gateways share it: multipart form fields, ``image`` or ``image[]``
file parts, ``{"data": [{"b64_json"|"url"}]}`` answers and the ``{"error": {...}}`` envelope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from ._version import __version__
from .errors import APIError, InvalidResponseError, error_class_for_status
from .media import FORMAT_MEDIA_TYPES
from .provider import Provider, ProviderSettings
from .request import EditRequest
from .result import EditedImage, EditResult
from .retry import retry_after_seconds
from .sentinel import is_given
from .usage import Usage

EDITS_PATH = "/images/edits"
USER_AGENT = f"imgedit/{__version__}"

_REQUEST_ID = re.compile(r"\s*\(request id: ([^)]+)\)\s*$")


def form_value(value: Any) -> str:
    """Form fields are text: booleans as the JSON words, numbers as digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_multipart_edit(
    request: EditRequest,
    settings: ProviderSettings,
    *,
    path: str = EDITS_PATH,
    fields: Mapping[str, Any] | None = None,
) -> httpx.Request:
    """The multipart edit request. ``fields`` defaults to prompt, model, given options, extra.

    One image goes as part ``image``, several as one ``image[]`` part each; every file part
    carries its filename and sniffed media type (``application/octet-stream`` is refused).
    """
    if fields is None:
        fields = default_form_fields(request)
    image_part = "image" if len(request.images) == 1 else "image[]"
    files: list[tuple[str, tuple[str, Any, str]]] = [
        (image_part, (image.filename, image.upload(), image.media_type)) for image in request.images
    ]
    if is_given(request.mask):
        mask = request.mask
        files.append(("mask", (mask.filename, mask.upload(), mask.media_type)))
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **settings.headers}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    return httpx.Request(
        "POST",
        settings.base_url.rstrip("/") + path,
        data={name: form_value(value) for name, value in fields.items()},
        files=files,
        headers=headers,
    )


def default_form_fields(request: EditRequest) -> dict[str, Any]:
    fields: dict[str, Any] = {"prompt": request.prompt, "model": request.model}
    fields.update(request.given_options())
    fields.update(request.extra)
    return fields


def load_json_object(response: httpx.Response, *, provider: str | None = None) -> dict[str, Any]:
    """The body as a JSON object, or an InvalidResponseError saying what came instead."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidResponseError(
            f"expected JSON but got {_content_summary(response)}",
            status=response.status_code,
            provider=provider,
        ) from None
    if not isinstance(body, dict):
        raise InvalidResponseError(
            f"expected a JSON object but got {type(body).__name__}",
            status=response.status_code,
            provider=provider,
        )
    return body


def parse_images_response(
    response: httpx.Response, request: EditRequest, *, provider: str
) -> EditResult:
    """Parse ``{"created", "data": [...], "usage", ...}`` leniently: unknown fields are kept."""
    body = load_json_object(response, provider=provider)
    data = body.get("data")
    if not isinstance(data, list) or not data:
        if isinstance(body.get("error"), Mapping):
            raise parse_openai_error(response, provider=provider, body=body)
        raise InvalidResponseError(
            "the answer has no images (no 'data' list)",
            status=response.status_code,
            provider=provider,
        )
    fmt = body.get("output_format")
    if not isinstance(fmt, str):
        fmt = request.output_format if is_given(request.output_format) else None
    declared = FORMAT_MEDIA_TYPES.get(fmt) if isinstance(fmt, str) else None
    images = [_image(item, declared, provider) for item in data]
    created = body.get("created")
    return EditResult(
        images=images,
        model=request.model,
        provider=provider,
        created=created if isinstance(created, int) else None,
        usage=Usage.from_json(body.get("usage")),
        size=_str(body.get("size")),
        output_format=fmt if isinstance(fmt, str) else None,
        quality=_str(body.get("quality")),
        background=_str(body.get("background")),
        metadata={k: v for k, v in body.items() if k != "data"},
    )


def _image(item: Any, declared: str | None, provider: str) -> EditedImage:
    if not isinstance(item, Mapping):
        raise InvalidResponseError(
            f"an entry of 'data' is {type(item).__name__}, not an object", provider=provider
        )
    b64, url = item.get("b64_json"), item.get("url")
    if not isinstance(b64, str) and not isinstance(url, str):
        raise InvalidResponseError(
            "an entry of 'data' has neither 'b64_json' nor 'url'", provider=provider
        )
    return EditedImage(
        b64_json=b64 if isinstance(b64, str) else None,
        url=url if isinstance(url, str) else None,
        revised_prompt=_str(item.get("revised_prompt")),
        declared_media_type=declared,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_openai_error(
    response: httpx.Response, *, provider: str | None = None, body: Any = None
) -> APIError:
    """Map an error answer (any status, any body) to the typed error it stands for."""
    status = response.status_code
    if body is None:
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
    envelope = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(envelope, Mapping):
        message = _str(envelope.get("message")) or "no message given"
        code = envelope.get("code")
        param = envelope.get("param")
        error_type = _str(envelope.get("type"))
    elif isinstance(envelope, str):
        message, code, param, error_type = envelope, None, None, None
    else:
        message = f"the server answered {_content_summary(response)}"
        code = param = error_type = None
    request_id = response.headers.get("x-request-id")
    match = _REQUEST_ID.search(message)
    if match:
        request_id = request_id or match.group(1)
        message = message[: match.start()]
    code = str(code) if code not in (None, "") else None
    cls = error_class_for_status(status, code) if status >= 400 else APIError
    return cls(
        message.rstrip(". "),
        status=status,
        code=code,
        param=str(param) if param not in (None, "") else None,
        error_type=error_type,
        request_id=request_id,
        provider=provider,
        retry_after=retry_after_seconds(response.headers),
    )


def _content_summary(response: httpx.Response) -> str:
    ctype = response.headers.get("content-type", "no content type").split(";")[0]
    size = len(response.content)
    if not size:
        return f"an empty body ({ctype})"
    text = response.content[:80].decode("utf-8", "replace")
    text = " ".join(text.split())
    return f"{size} bytes of {ctype} starting {text!r}"


class OpenAICompatibleProvider(Provider):
    """A provider for any server speaking this wire format: set the class attributes and
    :meth:`models`; override :meth:`form_fields` where a server names fields differently."""

    path: str = EDITS_PATH

    def form_fields(self, request: EditRequest) -> dict[str, Any]:
        return default_form_fields(request)

    def build_request(self, request: EditRequest, settings: ProviderSettings) -> httpx.Request:
        return build_multipart_edit(
            request, settings, path=self.path, fields=self.form_fields(request)
        )

    def parse_response(self, response: httpx.Response, request: EditRequest) -> EditResult:
        return parse_images_response(response, request, provider=self.name)

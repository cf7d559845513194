"""fal's error answers, mapped to imgedit's typed errors.

fal answers errors in two shapes. A model refusing its input (validation, content policy)
sends ``{"detail": [{"loc", "msg", "type", "url", "ctx", "input"}, ...]}``; the platform
failing (timeouts, runners) sends ``{"detail": "...", "error_type": "..."}`` with the same
``error_type`` in the ``X-Fal-Error-Type`` header. Anything else is summarised, not trusted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from imgedit_core import APIError, error_class_for_status

ERROR_TYPE_HEADER = "x-fal-error-type"
# unconfirmed: fal's word on whether a retry can help; the core's retry policy defers to it.
RETRYABLE_HEADER = "x-fal-retryable"
# unconfirmed: that fal names the request in this header; it is kept when present.
REQUEST_ID_HEADER = "x-fal-request-id"
_SHOWN_INPUT = 60


def parse_fal_error(response: httpx.Response, *, provider: str) -> APIError:
    """The typed error an error answer stands for, with fal's message, type and field."""
    status = response.status_code
    body = _json(response)
    detail = body.get("detail") if isinstance(body, Mapping) else None
    header_type = response.headers.get(ERROR_TYPE_HEADER) or None
    code: str | None = None
    param: str | None = None
    error_type: str | None = None
    if isinstance(detail, list) and detail:
        message, code, param = _model_errors(detail)
    else:
        if isinstance(detail, str) and detail.strip():
            # unconfirmed: that a bad key (401/403) also answers this flat shape; fal documents
            # it for platform errors, and others report {"detail": "Unauthorized"}.
            message = detail.strip()
        elif isinstance(detail, Mapping) and isinstance(detail.get("msg"), str):
            message = detail["msg"]
        else:
            message = f"the server answered {_summary(response)}"
        raw_type = body.get("error_type") if isinstance(body, Mapping) else None
        error_type = raw_type if isinstance(raw_type, str) and raw_type else header_type
        code = error_type
    cls = error_class_for_status(status, code) if status >= 400 else APIError
    return cls(
        message.rstrip(". "),
        status=status,
        code=code,
        param=param,
        error_type=error_type,
        request_id=response.headers.get(REQUEST_ID_HEADER),
        provider=provider,
        retryable=_retryable(response.headers.get(RETRYABLE_HEADER)),
    )


def _retryable(value: str | None) -> bool | None:
    if value is None:
        return None
    return {"true": True, "false": False}.get(value.strip().lower())


def _model_errors(errors: Sequence[Any]) -> tuple[str, str | None, str | None]:
    """(message, type, field) from a ``detail`` list: the first error names the type and the
    field; every error's message is kept, each after the field it concerns."""
    texts: list[str] = []
    first_type: str | None = None
    first_field: str | None = None
    for index, error in enumerate(errors):
        if not isinstance(error, Mapping):
            texts.append(str(error))
            continue
        field = _field(error.get("loc"))
        text = str(error.get("msg") or "no message given").rstrip(". ")
        shown = _shown_input(error.get("input"))
        if shown is not None:
            text += f" (got {shown})"
        if isinstance(error.get("url"), str):
            text += f"; see {error['url']}"
        if index == 0:
            raw_type = error.get("type")
            first_type = raw_type if isinstance(raw_type, str) and raw_type else None
            first_field = field
        elif field:
            text = f"{field}: {text}"
        texts.append(text)
    return "; ".join(texts) or "no message given", first_type, first_field


def _field(loc: Any) -> str | None:
    """``["body", "image_urls", 0]`` -> ``image_urls.0``; ``["body"]`` names no field."""
    if not isinstance(loc, list):
        return None
    parts = [str(part) for part in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or None


def _shown_input(value: Any) -> str | None:
    """The offending value when it is short enough to read (never an image's data URI)."""
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, str) and len(value) <= _SHOWN_INPUT and not value.startswith("data:"):
        return repr(value)
    return None


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _summary(response: httpx.Response) -> str:
    ctype = response.headers.get("content-type", "no content type").split(";")[0]
    if not response.content:
        return f"an empty body ({ctype})"
    text = " ".join(response.content[:80].decode("utf-8", "replace").split())
    return f"{len(response.content)} bytes of {ctype} starting {text!r}"

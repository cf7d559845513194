"""Error bodies in the two shapes the route answers with.

CometAPI's own errors (auth, an unreadable body, a missing or unknown model) carry
``type: "comet_api_error"``, ``param: ""`` and a ``(request id: ...)`` suffix in the message
(``error-comet-*.json``). Errors the upstream model service raises about the fields come back in
OpenAI's shape, without a suffix (``error-unknown-parameter.json``,
``error-unsupported-mimetype.json``, ``error-mask-alpha.json``).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

COMET_TYPE = "comet_api_error"
OPENAI_TYPE = "invalid_request_error"


def new_request_id() -> str:
    """Shaped like CometAPI's: a UTC timestamp then hex digits (``20261125120000abcdef``)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(8)


@dataclass(frozen=True)
class RouteError:
    """A refusal: the status and the four envelope fields."""

    status: int
    message: str
    code: str | None = None
    param: str | None = None
    type: str = OPENAI_TYPE
    comet: bool = False
    """CometAPI's own shape: ``comet_api_error``, ``param: ""``, request id in the message."""

    def body(self) -> dict[str, Any]:
        if self.comet:
            return {
                "error": {
                    "message": f"{self.message} (request id: {new_request_id()})",
                    "type": COMET_TYPE,
                    "param": self.param or "",
                    "code": self.code or "",
                }
            }
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def encode(self) -> bytes:
        return json.dumps(self.body()).encode()


def comet_error(status: int, message: str, *, code: str = "", param: str = "") -> RouteError:
    return RouteError(status, message, code=code, param=param, type=COMET_TYPE, comet=True)


def field_error(
    message: str,
    *,
    param: str | None,
    code: str | None,
    status: int = 400,
    type: str = OPENAI_TYPE,
) -> RouteError:
    return RouteError(status, message, code=code, param=param, type=type)

"""Token usage as the route reports it, lenient about what the aggregator adds or leaves out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@attrs.frozen(kw_only=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_image_tokens: int | None = None
    input_text_tokens: int | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    """The usage object as received, unknown fields included."""

    @classmethod
    def from_json(cls, body: Any) -> Usage | None:
        """None for an absent or empty usage object (qwen sends ``{}``)."""
        if not isinstance(body, Mapping) or not body:
            return None
        details = body.get("input_tokens_details")
        details = details if isinstance(details, Mapping) else {}
        return cls(
            input_tokens=_int_or_none(body.get("input_tokens")),
            output_tokens=_int_or_none(body.get("output_tokens")),
            total_tokens=_int_or_none(body.get("total_tokens")),
            input_image_tokens=_int_or_none(details.get("image_tokens")),
            input_text_tokens=_int_or_none(details.get("text_tokens")),
            raw=dict(body),
        )

    def to_dict(self) -> dict[str, int | None]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "input_image_tokens": self.input_image_tokens,
            "input_text_tokens": self.input_text_tokens,
        }

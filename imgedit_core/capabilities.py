"""What a model can do, declared once, and enforced before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from .media import JPEG, PNG, WEBP

_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


def _fs(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen(kw_only=True)
class SizeRule:
    """Free-form ``WxH`` sizes some models take beyond their fixed list."""

    multiple_of: int = 16
    max_aspect: float = 3.0
    max_long_side: int = 3840
    max_short_side: int = 2160
    min_side: int = 16
    min_pixels: int | None = None
    max_pixels: int | None = None

    def problem(self, width: int, height: int) -> str | None:
        """Why ``width x height`` breaks the rule, or None when it does not."""
        long_side, short_side = max(width, height), min(width, height)
        if short_side < self.min_side:
            return f"each side must be at least {self.min_side}"
        if width % self.multiple_of or height % self.multiple_of:
            return f"both sides must be multiples of {self.multiple_of}"
        if long_side / short_side > self.max_aspect:
            return f"the aspect ratio must be at most {self.max_aspect:g}:1"
        if long_side > self.max_long_side:
            return f"the long side must be at most {self.max_long_side}"
        if short_side > self.max_short_side:
            return f"the short side must be at most {self.max_short_side}"
        pixels = width * height
        if self.min_pixels is not None and pixels < self.min_pixels:
            return f"the size must have at least {self.min_pixels:,} pixels (it has {pixels:,})"
        if self.max_pixels is not None and pixels > self.max_pixels:
            return f"the size must have at most {self.max_pixels:,} pixels (it has {pixels:,})"
        return None

    def describe(self) -> str:
        text = (
            f"any WxH with both sides multiples of {self.multiple_of}, aspect at most "
            f"{self.max_aspect:g}:1, long side at most {self.max_long_side}"
        )
        if self.max_short_side < self.max_long_side:
            text += f", short side at most {self.max_short_side}"
        if self.min_pixels is not None or self.max_pixels is not None:
            low = f"{self.min_pixels:,}" if self.min_pixels is not None else "0"
            high = f"{self.max_pixels:,}" if self.max_pixels is not None else "any"
            text += f", {low} to {high} pixels"
        return text


@attrs.frozen(kw_only=True)
class Capabilities:
    """The flags one model declares. An empty set means the field cannot be set at all."""

    mask: bool = False
    url_output: bool = False
    b64_output: bool = True
    response_formats: frozenset[str] = attrs.field(factory=frozenset, converter=_fs)
    """``response_format`` values the route takes; empty: the field must never be sent."""
    qualities: frozenset[str] = attrs.field(factory=frozenset, converter=_fs)
    sizes: frozenset[str] = attrs.field(factory=frozenset, converter=_fs)
    custom_sizes: SizeRule | None = None
    output_formats: frozenset[str] = attrs.field(factory=frozenset, converter=_fs)
    default_output_format: str = "png"
    output_compression: bool = False
    backgrounds: frozenset[str] = attrs.field(factory=frozenset, converter=_fs)
    input_fidelities: frozenset[str] = attrs.field(factory=frozenset, converter=_fs)
    input_media_types: frozenset[str] = attrs.field(
        default=frozenset({PNG, JPEG, WEBP}), converter=_fs
    )
    max_images: int = 1
    min_n: int = 1
    max_n: int = 1
    max_prompt_chars: int | None = None
    max_image_bytes: int | None = None
    max_mask_bytes: int | None = None
    user: bool = False
    streaming: bool = False
    extra_options: frozenset[str] = attrs.field(factory=frozenset, converter=_fs)
    """Provider-specific options this model honours in ``EditRequest.extra``."""
    notes: str = ""

    def describe_sizes(self) -> str:
        parts = sorted(self.sizes)
        if self.custom_sizes is not None:
            parts.append(self.custom_sizes.describe())
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, sets sorted, for ``imgedit models --json``."""
        out: dict[str, Any] = {}
        for field in attrs.fields(Capabilities):
            value = getattr(self, field.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, SizeRule):
                value = attrs.asdict(value)
            out[field.name] = value
        return out

"""The edit request: what the caller asked for, before any provider touches it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from .inputs import ImageInput
from .sentinel import NOT_GIVEN, Maybe, is_given

#: The optional fields of :class:`EditRequest` that map to wire fields, in wire order.
OPTION_FIELDS: tuple[str, ...] = (
    "n",
    "quality",
    "size",
    "response_format",
    "output_format",
    "output_compression",
    "background",
    "input_fidelity",
    "user",
)


def _images(value: Any) -> tuple[ImageInput, ...]:
    if isinstance(value, ImageInput):
        return (value,)
    return tuple(value)


def _extra(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


@attrs.frozen(kw_only=True)
class EditRequest:
    """One edit. Every optional field defaults to NOT_GIVEN and is then never sent.

    ``extra`` carries provider-specific options (qwen's ``watermark``, say); a provider that does
    not declare an extra option refuses it rather than dropping it.
    """

    images: tuple[ImageInput, ...] = attrs.field(converter=_images)
    prompt: str
    model: str
    mask: Maybe[ImageInput] = NOT_GIVEN
    n: Maybe[int] = NOT_GIVEN
    quality: Maybe[str] = NOT_GIVEN
    size: Maybe[str] = NOT_GIVEN
    response_format: Maybe[str] = NOT_GIVEN
    output_format: Maybe[str] = NOT_GIVEN
    output_compression: Maybe[int] = NOT_GIVEN
    background: Maybe[str] = NOT_GIVEN
    input_fidelity: Maybe[str] = NOT_GIVEN
    user: Maybe[str] = NOT_GIVEN
    extra: Mapping[str, Any] = attrs.field(factory=dict, converter=_extra)

    def given_options(self) -> Iterator[tuple[str, Any]]:
        """The optional fields the caller set, as (name, value), in wire order."""
        for name in OPTION_FIELDS:
            value = getattr(self, name)
            if is_given(value):
                yield name, value

    def expected_count(self) -> int:
        """How many images the answer should hold."""
        return self.n if is_given(self.n) and isinstance(self.n, int) else 1

"""The check every request passes before a byte is sent.

It names the model, the field, the value and what the model accepts; nothing is dropped
silently, so what reaches the wire is exactly what the caller asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .capabilities import Capabilities
from .errors import CapabilityError, InputError
from .inputs import ImageInput
from .media import PNG
from .request import EditRequest
from .sentinel import is_given

NOT_SETTABLE = "the field cannot be set for this model"


def _choices(values: Iterable[str]) -> str:
    values = sorted(values)
    return "accepts " + ", ".join(values) if values else NOT_SETTABLE


def check_request(model: str, caps: Capabilities, request: EditRequest) -> None:
    """Raise the first problem with ``request`` for ``model``; return when it can be sent."""
    _check_prompt(model, caps, request.prompt)
    _check_images(model, caps, request.images)
    if is_given(request.mask):
        _check_mask(model, caps, request.mask, request.images[0])
    _check_n(model, caps, request)
    _check_choice(model, "quality", request.quality, caps.qualities)
    _check_size(model, caps, request)
    _check_response_format(model, caps, request)
    _check_choice(model, "output_format", request.output_format, caps.output_formats)
    _check_compression(model, caps, request)
    _check_background(model, caps, request)
    _check_choice(model, "input_fidelity", request.input_fidelity, caps.input_fidelities)
    if is_given(request.user) and not caps.user:
        raise CapabilityError(model, "user", request.user, NOT_SETTABLE)
    unknown = sorted(set(request.extra) - caps.extra_options)
    if unknown:
        accepted = (
            "its provider options are " + ", ".join(sorted(caps.extra_options))
            if caps.extra_options
            else "it takes no provider-specific options"
        )
        raise CapabilityError(model, unknown[0], request.extra[unknown[0]], accepted)


def _check_prompt(model: str, caps: Capabilities, prompt: str) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("the prompt is empty: say what to change, e.g. --prompt 'Add a red hat'.")
    if caps.max_prompt_chars is not None and len(prompt) > caps.max_prompt_chars:
        raise CapabilityError(
            model,
            "prompt",
            f"<{len(prompt)} characters>",
            f"accepts at most {caps.max_prompt_chars} characters",
        )


def _check_images(model: str, caps: Capabilities, images: tuple[ImageInput, ...]) -> None:
    if not images:
        raise InputError("no input image: give at least one image to edit.")
    if len(images) > caps.max_images:
        raise CapabilityError(
            model,
            "image",
            f"<{len(images)} images>",
            f"accepts at most {caps.max_images} input image{'s' if caps.max_images > 1 else ''}",
        )
    for image in images:
        if image.media_type not in caps.input_media_types:
            raise CapabilityError(
                model,
                "image",
                f"{image.label} ({image.media_type})",
                _choices(caps.input_media_types),
                hint="Convert the file to one of those types.",
            )
        if caps.max_image_bytes is not None and image.size > caps.max_image_bytes:
            raise InputError(
                f"image {image.label!r} is {image.size} bytes; {model} accepts files under "
                f"{caps.max_image_bytes} bytes. Resize or compress it."
            )


def _check_mask(model: str, caps: Capabilities, mask: ImageInput, first: ImageInput) -> None:
    if not caps.mask:
        raise CapabilityError(
            model, "mask", mask.label, "it takes no mask", hint="Describe the region in the prompt."
        )
    if mask.media_type != PNG:
        raise InputError(
            f"mask {mask.label!r} is {mask.media_type}; a mask must be a PNG with an alpha channel."
        )
    if caps.max_mask_bytes is not None and mask.size > caps.max_mask_bytes:
        raise InputError(
            f"mask {mask.label!r} is {mask.size} bytes; {model} accepts masks under "
            f"{caps.max_mask_bytes} bytes."
        )
    from .imageinfo import image_info

    mask_info, image_info_ = image_info(mask), image_info(first)
    if not mask_info.has_alpha:
        raise InputError(
            f"mask {mask.label!r} has no alpha channel: transparent pixels mark where to edit, "
            f"so save it as RGBA PNG."
        )
    if (mask_info.width, mask_info.height) != (image_info_.width, image_info_.height):
        raise InputError(
            f"mask {mask.label!r} is {mask_info.width}x{mask_info.height} but image "
            f"{first.label!r} is {image_info_.width}x{image_info_.height}; they must match."
        )


def _check_n(model: str, caps: Capabilities, request: EditRequest) -> None:
    if not is_given(request.n):
        return
    n = request.n
    if isinstance(n, bool) or not isinstance(n, int) or not caps.min_n <= n <= caps.max_n:
        accepted = (
            f"accepts n = {caps.min_n} only"
            if caps.min_n == caps.max_n
            else f"accepts n from {caps.min_n} to {caps.max_n}"
        )
        raise CapabilityError(model, "n", n, accepted)


def _check_choice(model: str, field: str, value: object, accepted: frozenset[str]) -> None:
    if is_given(value) and not (isinstance(value, str) and value in accepted):
        raise CapabilityError(model, field, value, _choices(accepted))


_SIZE = re.compile(r"^(?P<w>[0-9]{1,6})x(?P<h>[0-9]{1,6})$", re.ASCII)


def _check_size(model: str, caps: Capabilities, request: EditRequest) -> None:
    size = request.size
    if not is_given(size) or (isinstance(size, str) and size in caps.sizes):
        return
    accepted = (
        "accepts " + caps.describe_sizes()
        if caps.sizes or caps.custom_sizes
        else "the size cannot be set for this model (the output follows the input)"
    )
    rule = caps.custom_sizes
    if rule is None or not isinstance(size, str):
        raise CapabilityError(model, "size", size, accepted)
    match = _SIZE.match(size)
    if match is None:
        raise CapabilityError(model, "size", size, accepted, hint="Write sizes as WIDTHxHEIGHT.")
    problem = rule.problem(int(match["w"]), int(match["h"]))
    if problem is not None:
        raise CapabilityError(model, "size", size, f"{problem} ({accepted})")


def _check_response_format(model: str, caps: Capabilities, request: EditRequest) -> None:
    if not is_given(request.response_format) or request.response_format in caps.response_formats:
        return
    if not caps.response_formats:
        raise CapabilityError(
            model,
            "response_format",
            request.response_format,
            "the model always answers with b64_json and refuses the field",
            hint="Leave it out.",
        )
    raise CapabilityError(
        model, "response_format", request.response_format, _choices(caps.response_formats)
    )


def _effective_format(caps: Capabilities, request: EditRequest) -> str:
    fmt = request.output_format
    return fmt if isinstance(fmt, str) else caps.default_output_format


def _check_compression(model: str, caps: Capabilities, request: EditRequest) -> None:
    value = request.output_compression
    if not is_given(value):
        return
    if not caps.output_compression:
        raise CapabilityError(model, "output_compression", value, NOT_SETTABLE)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise CapabilityError(model, "output_compression", value, "accepts 0 to 100")
    fmt = _effective_format(caps, request)
    if fmt not in ("jpeg", "webp"):
        raise CapabilityError(
            model,
            "output_compression",
            value,
            f"it applies to jpeg and webp output only, not {fmt}",
            hint="Add --output-format jpeg or webp.",
        )


def _check_background(model: str, caps: Capabilities, request: EditRequest) -> None:
    _check_choice(model, "background", request.background, caps.backgrounds)
    if request.background == "transparent":
        fmt = _effective_format(caps, request)
        if fmt not in ("png", "webp"):
            raise CapabilityError(
                model,
                "background",
                "transparent",
                f"a transparent background needs png or webp output, not {fmt}",
            )

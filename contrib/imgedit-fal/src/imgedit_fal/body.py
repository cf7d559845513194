"""The JSON body fal's edit endpoints take: the prompt, images as data URIs, options by fal's names.

fal reads images from URLs and accepts data URIs in their place (fal_client documents passing
in-memory data URLs to models), so the bytes travel inside the request and nothing is uploaded
to fal's CDN first. The cost is size: base64 adds a third, and a large body is slow to send.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from imgedit_core import CapabilityError, EditRequest, ImageInput
from imgedit_core.sentinel import is_given

from .models import Endpoint

#: imgedit's option names -> fal's. ``response_format`` becomes ``sync_mode``, whose true
#: answers data URIs (b64_json) and whose false answers URLs.
WIRE_NAMES: dict[str, str] = {
    "n": "num_images",
    "size": "image_size",
    "output_format": "output_format",
    "response_format": "sync_mode",
}


# unconfirmed: how large a request body fal.run accepts; large inputs may need fal's CDN instead.
def data_uri(image: ImageInput) -> str:
    """``data:<type>;base64,<bytes>``: the media type is the one sniffed from the bytes."""
    return f"data:{image.media_type};base64,{base64.b64encode(image.read()).decode('ascii')}"


def build_body(request: EditRequest, endpoint: Endpoint) -> dict[str, Any]:
    """prompt, the images, then only the options the caller set, in imgedit's wire order."""
    if is_given(request.mask):  # the capabilities refuse it first; never drop it silently
        raise CapabilityError(request.model, "mask", request.mask.label, "it takes no mask")
    uris = [data_uri(image) for image in request.images]
    body: dict[str, Any] = {
        "prompt": request.prompt,
        endpoint.image_key: uris if endpoint.image_list else uris[0],
    }
    for name, value in request.given_options():
        if name not in WIRE_NAMES:
            raise CapabilityError(request.model, name, value, "fal's endpoint has no such field")
        body[WIRE_NAMES[name]] = value == "b64_json" if name == "response_format" else value
    for name, value in request.extra.items():
        check_option(request.model, name, value)
        body[name] = value
    return body


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: The JSON type each fal option takes, checked before sending because ``--option seed=abc``
#: would otherwise cost a round trip. Ranges are left to fal, whose 422 names the field.
OPTION_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": (_whole, "accepts a whole number, e.g. --option seed=42"),
    "num_inference_steps": (_whole, "accepts a whole number, e.g. --option num_inference_steps=30"),
    "guidance_scale": (_number, "accepts a number, e.g. --option guidance_scale=4"),
    "enable_safety_checker": (
        lambda v: isinstance(v, bool),
        "accepts true or false, e.g. --option enable_safety_checker=false",
    ),
    "negative_prompt": (lambda v: isinstance(v, str), "accepts text"),
    "acceleration": (lambda v: isinstance(v, str), "accepts none, regular or high"),
}


def check_option(model: str, name: str, value: Any) -> None:
    """Refuse a provider option whose value has the wrong JSON type for fal."""
    rule = OPTION_TYPES.get(name)
    if rule is not None and not rule[0](value):
        raise CapabilityError(model, name, value, rule[1])

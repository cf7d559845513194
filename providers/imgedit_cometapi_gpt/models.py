"""Per-model capabilities of the GPT image models, from the route's documented rules.

Facts marked *unconfirmed* are single constants here, so confirming them is a one-line change.
"""

from __future__ import annotations

from typing import Any

from imgedit_core import Capabilities, ModelSpec, SizeRule

MB = 1024 * 1024

#: CometAPI documents one input file; OpenAI takes up to 16. *Unconfirmed* on CometAPI.
MAX_INPUT_IMAGES = 16
#: gpt-image-2's free sizes: "at most 3840x2160" read as a long side of at most 3840 and a pixel
#: budget of 3840*2160; the floor of 655,360 pixels is what OpenAI-compatible relays document.
#: *Unconfirmed* on CometAPI; the emulator applies the same reading (emulator/rules.py).
GPT_IMAGE_2_SIZES = SizeRule(
    max_long_side=3840, max_short_side=3840, min_pixels=655_360, max_pixels=3840 * 2160
)
#: gpt-image-2 "may reject transparent (version dependent)": refused until confirmed.
GPT_IMAGE_2_TRANSPARENT = False

FIXED_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
QUALITIES = ("low", "medium", "high", "auto")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("transparent", "opaque", "auto")

_COMMON = Capabilities(
    mask=True,
    url_output=False,
    b64_output=True,
    response_formats=(),  # GPT image models answer 400 unknown_parameter to response_format
    qualities=QUALITIES,
    sizes=FIXED_SIZES,
    output_formats=OUTPUT_FORMATS,
    output_compression=True,
    backgrounds=BACKGROUNDS,
    max_images=MAX_INPUT_IMAGES,
    min_n=1,
    max_n=10,
    max_prompt_chars=32000,
    max_image_bytes=50 * MB,
    max_mask_bytes=4 * MB,
    user=True,
)


def _caps(**changes: Any) -> Capabilities:
    import attrs

    return attrs.evolve(_COMMON, **changes)


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="gpt-image-2",
        description="CometAPI's recommended edit model; free-form sizes",
        capabilities=_caps(
            custom_sizes=GPT_IMAGE_2_SIZES,
            backgrounds=BACKGROUNDS if GPT_IMAGE_2_TRANSPARENT else ("opaque", "auto"),
            notes="input_fidelity is ignored by the model, so it is refused here",
        ),
    ),
    ModelSpec(
        name="gpt-image-1.5",
        capabilities=_caps(input_fidelities=("high", "low")),
    ),
    ModelSpec(
        name="gpt-image-1",
        capabilities=_caps(input_fidelities=("high", "low")),
    ),
    ModelSpec(
        name="gpt-image-1-mini",
        description="the low-cost GPT image model",
        capabilities=_caps(input_fidelities=("low",), notes="input_fidelity=high is rejected"),
    ),
)

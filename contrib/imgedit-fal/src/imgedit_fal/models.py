"""The fal.ai endpoints this plugin serves, and what each one accepts.

The facts come from fal's page for ``fal-ai/qwen-image-edit`` (its llms.txt), fal's error
reference, fal's own clients (fal_client, fal-js) and, where fal's page was cut short, copies of
fal's schema published by others. Every fact fal's own pages do not state is marked
``# unconfirmed:`` and listed in the README, so a live check knows what to look at.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgedit_core import Capabilities, ModelSpec, PluginError

FAL_RUN_URL = "https://fal.run"
"""fal's synchronous host: one POST that answers with the result, which is all the core's
transport does. The queue host (queue.fal.run) answers a ticket to poll instead."""


@dataclass(frozen=True)
class Endpoint:
    """Where a model lives on fal, and which JSON key carries its input images."""

    path: str
    """The endpoint id appended to the base URL, e.g. ``fal-ai/qwen-image-edit``."""
    image_key: str
    """``image_url`` takes one image as a string; ``image_urls`` takes a list."""
    image_list: bool


#: fal's standard ``image_size`` presets (fal-js's generated types list them for its models).
#: The endpoint also takes ``{"width", "height"}``, whose limits for these models are not
#: documented, so custom sizes are not declared: a size imgedit cannot check is refused.
# unconfirmed: that qwen-image-edit takes exactly these presets (a copy of its schema lists them).
IMAGE_SIZES = (
    "square_hd",
    "square",
    "portrait_4_3",
    "portrait_16_9",
    "landscape_4_3",
    "landscape_16_9",
)
# unconfirmed: output_format is jpeg or png, png by default (fal's page is cut off there; a copy
# of the schema and gateways that resell the endpoint agree).
OUTPUT_FORMATS = ("jpeg", "png")
DEFAULT_OUTPUT_FORMAT = "png"
#: fal's page: ``num_images`` from 1 to 4.
MAX_N = 4

#: Options fal's page documents for qwen-image-edit: seed, guidance_scale (0-20),
#: num_inference_steps (2-50) and enable_safety_checker.
DOCUMENTED_OPTIONS = ("seed", "guidance_scale", "num_inference_steps", "enable_safety_checker")
# unconfirmed: negative_prompt and acceleration ("none", "regular" or "high") come from a copy
# of the endpoint's schema; fal's own page is cut off before them.
SCHEMA_COPY_OPTIONS = ("negative_prompt", "acceleration")
# unconfirmed: the plus endpoint's options come from gateways that resell it. None of them list
# acceleration, so it is not declared: if the endpoint ignored it, it would be lost silently.
# unconfirmed: whether fal ignores or refuses unknown keys.
PLUS_OPTIONS = (
    "seed",
    "negative_prompt",
    "guidance_scale",
    "num_inference_steps",
    "enable_safety_checker",
)
# unconfirmed: how many images the plus endpoint takes; 3 is what Alibaba's own plus model
# takes, and what the built-in CometAPI provider declares.
MAX_IMAGES_PLUS = 3

_NOTES = (
    "fal.ai's hosted endpoint: answers URLs, or data URIs with --response-format b64_json "
    "(fal's sync_mode); size takes fal's presets (square_hd, landscape_4_3, ...)"
)


def _capabilities(*, max_images: int, options: tuple[str, ...]) -> Capabilities:
    return Capabilities(
        mask=False,  # the edit endpoints take no mask; fal lists inpainting as another endpoint
        url_output=True,
        b64_output=True,  # with sync_mode, each image comes back as a data URI
        # Sent as sync_mode: b64_json -> true, url -> false.
        # unconfirmed: that the plus endpoint honours sync_mode as the base one does.
        response_formats=("url", "b64_json"),
        sizes=IMAGE_SIZES,
        output_formats=OUTPUT_FORMATS,
        default_output_format=DEFAULT_OUTPUT_FORMAT,
        # unconfirmed: which input types fal decodes from a data URI; PNG, JPEG and WebP are
        # the types imgedit sniffs and sends.
        max_images=max_images,
        min_n=1,
        max_n=MAX_N,
        extra_options=options,
        notes=_NOTES,
    )


#: Model name -> where it lives on fal. The names are the ones the built-in CometAPI provider
#: serves too, so `--provider` (or a config route) picks between them.
ENDPOINTS: dict[str, Endpoint] = {
    # fal's page gives the endpoint; unconfirmed: the key image_url (a copy of its schema).
    "qwen-image-edit": Endpoint("fal-ai/qwen-image-edit", "image_url", image_list=False),
    # unconfirmed: the plus endpoint takes image_urls (a list); fal's page for it was not read.
    "qwen-image-edit-plus": Endpoint("fal-ai/qwen-image-edit-plus", "image_urls", image_list=True),
}

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="qwen-image-edit",
        description="Alibaba's Qwen-Image-Edit, hosted by fal.ai",
        capabilities=_capabilities(max_images=1, options=DOCUMENTED_OPTIONS + SCHEMA_COPY_OPTIONS),
        dated_snapshots=False,  # fal's endpoint ids are fixed: a dated id has nowhere to go
    ),
    # unconfirmed: that plus takes the base endpoint's num_images, image_size and output_format
    # (the gateways that resell it list the same ones).
    ModelSpec(
        name="qwen-image-edit-plus",
        description="Qwen-Image-Edit-Plus, multi-image edits, hosted by fal.ai",
        capabilities=_capabilities(max_images=MAX_IMAGES_PLUS, options=PLUS_OPTIONS),
        dated_snapshots=False,
    ),
)


def endpoint_for(model: str) -> Endpoint:
    """The fal endpoint serving ``model``. The registry hands a provider only its own models,
    so a miss means the tables above disagree: a bug in this plugin, reported as one."""
    try:
        return ENDPOINTS[model]
    except KeyError:
        raise PluginError(
            f"imgedit-fal has no fal endpoint for model {model!r}; "
            f"it serves {', '.join(sorted(ENDPOINTS))}."
        ) from None

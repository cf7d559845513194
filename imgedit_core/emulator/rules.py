"""The emulator's own table of what the route accepts, and the check of one request against it.

This models the server, so it deliberately does not import the providers' capability flags:
a test of imgedit against the emulator must be able to fail when imgedit's flags are wrong.
Facts the notes mark as *unconfirmed* are single constants below, commented as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .envelope import RouteError, comet_error, field_error
from .multipart import Form, Part
from .probe import ACCEPTED_FORMATS, ImageFacts, probe_image

MB = 1024 * 1024

ACCEPTED_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")
#: The gateway reads file parts named these; everything else in ``form.files`` is unknown.
IMAGE_PARTS = ("image", "image[]")

# --- GPT image models (OpenAI's rules, forwarded by CometAPI) ---------------------------------

FIXED_SIZES = ("1024x1024", "1536x1024", "1024x1536")
SIZE_VALUES = (*FIXED_SIZES, "auto")
QUALITIES = ("low", "medium", "high", "auto")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("transparent", "opaque", "auto")
FIDELITIES = ("high", "low")
GPT_MAX_N = 10
GPT_MAX_PROMPT = 32000
GPT_MAX_IMAGE_BYTES = 50 * MB
GPT_MAX_MASK_BYTES = 4 * MB
#: CometAPI documents one input file; OpenAI's route takes up to 16. *Unconfirmed* on CometAPI.
GPT_MAX_IMAGES = 16
#: "gpt-image-2 may reject transparent (version dependent)": refused. *Unconfirmed*.
GPT_IMAGE_2_TRANSPARENT = False
#: Fields OpenAI's edit route takes for GPT image models; any other is ``unknown_parameter``.
#: ``safety_identifier`` is OpenAI's; whether CometAPI forwards it is *unconfirmed*.
GPT_FIELDS = frozenset(
    {
        "prompt",
        "model",
        "n",
        "size",
        "quality",
        "output_format",
        "output_compression",
        "background",
        "input_fidelity",
        "stream",
        "partial_images",
        "user",
        "safety_identifier",
    }
)

# gpt-image-2's free-form sizes, as OpenAI-compatible relays document them (CometAPI's notes say
# only "at most 3840x2160"; the pixel budget below is that size's area). *Unconfirmed* on CometAPI.
FREE_SIZE_MULTIPLE = 16
FREE_SIZE_MAX_EDGE = 3840
FREE_SIZE_MAX_ASPECT = 3
FREE_SIZE_MAX_PIXELS = 3840 * 2160  # 8,294,400
FREE_SIZE_MIN_PIXELS = 655_360  # e.g. 1024x640

# --- qwen-image-edit behind the gateway (*unconfirmed* in detail) -----------------------------

#: Upstream takes 1-3 input images. *Unconfirmed* behind CometAPI.
QWEN_MAX_IMAGES = 3
#: n for -plus and -max (the base model takes 1). *Unconfirmed* behind CometAPI.
QWEN_MAX_N_PLUS = 6
QWEN_RESPONSE_FORMATS = ("url", "b64_json")
#: Sent but ignored by the gateway (it forwards only n and watermark). *Unconfirmed*.
QWEN_IGNORED = ("mask", "size", "seed", "negative_prompt")

_DATED = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


@dataclass(frozen=True)
class GptModel:
    name: str
    free_sizes: bool = False
    transparent: bool = True
    fidelities: tuple[str, ...] | None = FIDELITIES
    """input_fidelity values taken; None: any valid value is accepted and ignored."""
    family: Literal["gpt"] = "gpt"


@dataclass(frozen=True)
class QwenModel:
    name: str
    max_n: int
    family: Literal["qwen"] = "qwen"


ModelRules = GptModel | QwenModel

MODELS: dict[str, ModelRules] = {
    m.name: m
    for m in (
        GptModel(
            "gpt-image-2", free_sizes=True, transparent=GPT_IMAGE_2_TRANSPARENT, fidelities=None
        ),
        GptModel("gpt-image-1.5"),
        GptModel("gpt-image-1"),
        GptModel("gpt-image-1-mini", fidelities=("low",)),
        QwenModel("qwen-image-edit", max_n=1),
        QwenModel("qwen-image-edit-plus", max_n=QWEN_MAX_N_PLUS),
        QwenModel("qwen-image-edit-max", max_n=QWEN_MAX_N_PLUS),
    )
}


def lookup_model(name: str) -> ModelRules | None:
    """The rules for a model id, dated ids (``NAME-YYYY-MM-DD``) included; None if unknown."""
    if name in MODELS:
        return MODELS[name]
    match = _DATED.match(name)
    return MODELS.get(match.group("base")) if match else None


@dataclass(frozen=True)
class EditPlan:
    """An accepted request, with every default resolved: what the emulator renders."""

    model: str
    """As sent (a dated id stays dated)."""
    rules: ModelRules
    prompt: str
    images: tuple[bytes, ...]
    image_sizes: tuple[tuple[int, int], ...]
    mask: bytes | None
    n: int
    size: tuple[int, int]
    quality: str
    """Resolved: ``auto`` answers as ``medium``."""
    output_format: str
    compression: int | None
    background: str
    """Resolved: ``transparent`` or ``opaque`` (``auto`` answers as ``opaque``)."""
    response_format: str
    watermark: bool

    @property
    def size_label(self) -> str:
        return f"{self.size[0]}x{self.size[1]}"


def check_edit(form: Form) -> EditPlan | RouteError:
    """Accept the request as the route would, or say why the route refuses it.

    The order follows the route: the gateway's own checks (model present, known, prompt
    present), then the model's rules in the order of its fields.
    """
    model = (form.first("model") or "").strip()
    if not model:
        return comet_error(400, "model name is required", code="invalid_request")
    rules = lookup_model(model)
    if rules is None:
        known = ", ".join(sorted(MODELS))
        return comet_error(
            404,
            f"The model `{model}` does not exist or you do not have access to it. "
            f"Models this emulator serves: {known} (and dated ids NAME-YYYY-MM-DD)",
            code="model_not_found",
        )
    prompt = form.first("prompt")
    if prompt is None or not prompt.strip():
        return comet_error(400, "prompt is required", code="invalid_request")
    if isinstance(rules, QwenModel):
        return _check_qwen(form, model, rules, prompt)
    return _check_gpt(form, model, rules, prompt)


# --- GPT ---------------------------------------------------------------------------------------


def _check_gpt(form: Form, model: str, rules: GptModel, prompt: str) -> EditPlan | RouteError:
    for name in form.fields:
        if name not in GPT_FIELDS and name not in (*IMAGE_PARTS, "mask"):
            return _unknown(name)
    for part in form.files:
        if part.name not in (*IMAGE_PARTS, "mask"):
            return _unknown(part.name)
    if len(prompt) > GPT_MAX_PROMPT:
        return field_error(
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{GPT_MAX_PROMPT}, but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    images = _images(form, GPT_MAX_IMAGES, GPT_MAX_IMAGE_BYTES)
    if isinstance(images, RouteError):
        return images
    parts, facts = images
    mask = _mask(form, facts[0])
    if isinstance(mask, RouteError):
        return mask
    n = _int_field(form, "n", 1, 1, GPT_MAX_N)
    if isinstance(n, RouteError):
        return n
    size = _gpt_size(form.first("size"), rules, facts[0])
    if isinstance(size, RouteError):
        return size
    quality = _choice(form, "quality", QUALITIES, "auto")
    if isinstance(quality, RouteError):
        return quality
    output_format = _choice(form, "output_format", OUTPUT_FORMATS, "png")
    if isinstance(output_format, RouteError):
        return output_format
    compression = _compression(form, output_format)
    if isinstance(compression, RouteError):
        return compression
    background = _background(form, rules, output_format)
    if isinstance(background, RouteError):
        return background
    fidelity = _fidelity(form, rules)
    if fidelity is not None:
        return fidelity
    streaming = _streaming(form)
    if streaming is not None:
        return streaming
    return EditPlan(
        model=model,
        rules=rules,
        prompt=prompt,
        images=tuple(p.data for p in parts),
        image_sizes=tuple(f.size for f in facts),
        mask=mask.data if mask is not None else None,
        n=n,
        size=size,
        quality="medium" if quality == "auto" else quality,
        output_format=output_format,
        compression=compression,
        background=background,
        response_format="b64_json",
        watermark=False,
    )


def _unknown(name: str) -> RouteError:
    return field_error(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def _images(
    form: Form, max_images: int, max_bytes: int | None
) -> tuple[list[Part], list[ImageFacts]] | RouteError:
    for name in IMAGE_PARTS:
        if name in form.fields:
            return field_error(
                f"Invalid type for '{name}': expected a file, but got a string instead. "
                f"Send the image as a file part with a filename and an image content type.",
                param="image",
                code="invalid_type",
            )
    parts = form.files_named(*IMAGE_PARTS)
    if not parts:
        return field_error(
            "Missing required parameter: 'image'. Send the image as a file part named 'image' "
            "(several as 'image[]').",
            param="image",
            code="missing_required_parameter",
        )
    if len(parts) > max_images:
        return field_error(
            f"Invalid 'image': array too long. Expected an array with maximum length "
            f"{max_images}, but got an array with length {len(parts)} instead.",
            param="image",
            code="array_above_max_length",
        )
    facts: list[ImageFacts] = []
    for part in parts:
        problem = _file_problem(part, "image", max_bytes)
        if isinstance(problem, RouteError):
            return problem
        facts.append(problem)
    return parts, facts


def _file_problem(part: Part, param: str, max_bytes: int | None) -> ImageFacts | RouteError:
    """Check one file part's declared type, size and bytes; its facts when it passes."""
    if part.media_type not in ACCEPTED_MEDIA_TYPES:
        declared = part.media_type or "none"
        return field_error(
            f"Invalid file '{param}': unsupported mimetype ('{declared}'). Supported file "
            f"formats are 'image/jpeg', 'image/png', and 'image/webp'.",
            param=param,
            code="unsupported_file_mimetype",
        )
    if max_bytes is not None and len(part.data) >= max_bytes:
        return field_error(
            f"Invalid file '{param}': '{part.filename}' is {len(part.data)} bytes; each file "
            f"must be smaller than {max_bytes // MB} MB.",
            param=param,
            code="file_too_large",
        )
    facts = probe_image(part.data)
    if facts is None or facts.format not in ACCEPTED_FORMATS:
        what = "not a readable image" if facts is None else f"a {facts.format} image"
        return field_error(
            f"Invalid image file '{param}': '{part.filename}' is {what}. Supported file "
            f"formats are PNG, JPEG and WebP.",
            param=param,
            code="invalid_image_file",
        )
    return facts


def _mask(form: Form, first: ImageFacts) -> Part | RouteError | None:
    if "mask" in form.fields:
        return field_error(
            "Invalid type for 'mask': expected a file, but got a string instead.",
            param="mask",
            code="invalid_type",
        )
    masks = form.files_named("mask")
    if not masks:
        return None
    mask = masks[0]
    facts = _file_problem(mask, "mask", GPT_MAX_MASK_BYTES)
    if isinstance(facts, RouteError):
        return facts
    problem = None
    if facts.format != "PNG":
        problem = f"mask image must be a PNG, got {facts.format}"
    elif not facts.has_alpha:
        problem = "mask image missing alpha channel"
    elif facts.size != first.size:
        problem = (
            f"mask size {facts.width}x{facts.height} does not match image size "
            f"{first.width}x{first.height}"
        )
    if problem:
        return field_error(
            f"Invalid mask image format - {problem}",
            param=None,
            code="invalid_mask_image_format",
            type="image_generation_user_error",
        )
    return mask


def _int_field(form: Form, name: str, default: int, low: int, high: int) -> int | RouteError:
    raw = form.first(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        return field_error(
            f"Invalid type for '{name}': expected an integer, but got a string instead ({raw!r}).",
            param=name,
            code="invalid_type",
        )
    if value < low:
        return field_error(
            f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but "
            f"got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if value > high:
        return field_error(
            f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but "
            f"got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    return value


def _supported(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _invalid_value(name: str, value: str, accepted: str) -> RouteError:
    return field_error(
        f"Invalid value: '{value}'. Supported values are: {accepted}.",
        param=name,
        code="invalid_value",
    )


def _choice(form: Form, name: str, values: tuple[str, ...], default: str) -> str | RouteError:
    raw = form.first(name)
    if raw is None:
        return default
    if raw not in values:
        return _invalid_value(name, raw, _supported(values))
    return raw


def _gpt_size(raw: str | None, rules: GptModel, first: ImageFacts) -> tuple[int, int] | RouteError:
    if raw is None or raw == "auto":
        return auto_size(first.width, first.height)
    if raw in FIXED_SIZES:
        fixed_width, fixed_height = raw.split("x")
        return int(fixed_width), int(fixed_height)
    accepted = _supported(SIZE_VALUES)
    if not rules.free_sizes:
        return _invalid_value("size", raw, accepted)
    match = _SIZE.match(raw)
    rule = (
        f"{accepted}, or WxH with both sides multiples of {FREE_SIZE_MULTIPLE}, the long side "
        f"at most {FREE_SIZE_MAX_EDGE} and at most {FREE_SIZE_MAX_ASPECT} times the short "
        f"side, and {FREE_SIZE_MIN_PIXELS} to {FREE_SIZE_MAX_PIXELS} pixels in total "
        f"(e.g. 2048x1152)"
    )
    if not match:
        return _invalid_value("size", raw, rule)
    width, height = int(match.group(1)), int(match.group(2))
    problem = free_size_problem(width, height)
    if problem:
        return field_error(
            f"Invalid value: '{raw}': {problem}. Supported values are: {rule}.",
            param="size",
            code="invalid_value",
        )
    return width, height


def free_size_problem(width: int, height: int) -> str | None:
    """Why ``width x height`` is not a gpt-image-2 size, or None when it is one."""
    long_side, short_side = max(width, height), min(width, height)
    if short_side == 0:
        return "a side is 0"
    if width % FREE_SIZE_MULTIPLE or height % FREE_SIZE_MULTIPLE:
        return f"both sides must be multiples of {FREE_SIZE_MULTIPLE}"
    if long_side > FREE_SIZE_MAX_EDGE:
        return f"the long side must be at most {FREE_SIZE_MAX_EDGE}"
    if long_side > FREE_SIZE_MAX_ASPECT * short_side:
        return f"the long side must be at most {FREE_SIZE_MAX_ASPECT} times the short side"
    if width * height > FREE_SIZE_MAX_PIXELS:
        return f"{width * height} pixels is more than {FREE_SIZE_MAX_PIXELS} (3840x2160)"
    if width * height < FREE_SIZE_MIN_PIXELS:
        return f"{width * height} pixels is fewer than {FREE_SIZE_MIN_PIXELS}"
    return None


def auto_size(width: int, height: int) -> tuple[int, int]:
    """``size=auto``: the fixed size nearest the first image's aspect (ties: square)."""
    aspect = width / height
    candidates = [(1024, 1024), (1536, 1024), (1024, 1536)]
    return min(candidates, key=lambda s: abs(s[0] / s[1] - aspect))


def _compression(form: Form, output_format: str) -> int | RouteError | None:
    if form.first("output_compression") is None:
        return None
    value = _int_field(form, "output_compression", 100, 0, 100)
    if isinstance(value, RouteError):
        return value
    if output_format == "png":
        return field_error(
            "Invalid 'output_compression': it applies to jpeg and webp output only, and "
            "output_format is png. Set output_format to jpeg or webp, or leave "
            "output_compression out.",
            param="output_compression",
            code="invalid_value",
        )
    return value


def _background(form: Form, rules: GptModel, output_format: str) -> str | RouteError:
    value = _choice(form, "background", BACKGROUNDS, "auto")
    if isinstance(value, RouteError) or value != "transparent":
        return "opaque" if value == "auto" else value
    if not rules.transparent:
        return field_error(
            f"Invalid value: 'transparent'. {rules.name} does not support a transparent "
            f"background; use 'opaque' or 'auto'.",
            param="background",
            code="invalid_value",
        )
    if output_format not in ("png", "webp"):
        return field_error(
            f"Invalid value: 'transparent'. A transparent background needs output_format png "
            f"or webp, not {output_format}.",
            param="background",
            code="invalid_value",
        )
    return value


def _fidelity(form: Form, rules: GptModel) -> RouteError | None:
    value = _choice(form, "input_fidelity", FIDELITIES, "low")
    if isinstance(value, RouteError):
        return value
    if rules.fidelities is not None and value not in rules.fidelities:
        return field_error(
            f"Invalid value: '{value}'. {rules.name} supports input_fidelity "
            f"{_supported(rules.fidelities)} only.",
            param="input_fidelity",
            code="invalid_value",
        )
    return None


def _streaming(form: Form) -> RouteError | None:
    partial = _int_field(form, "partial_images", 0, 0, 3)
    if isinstance(partial, RouteError):
        return partial
    stream = (form.first("stream") or "false").strip().lower()
    if stream not in ("true", "false"):
        return _invalid_value("stream", stream, "'true' and 'false'")
    if stream == "true":
        # The emulator's own limit, not the route's: streaming is unconfirmed on CometAPI.
        return field_error(
            "The imgedit emulator does not emulate streaming (stream=true); streaming is "
            "unconfirmed on CometAPI. Leave stream out.",
            param="stream",
            code="emulator_unsupported",
        )
    return None


# --- qwen --------------------------------------------------------------------------------------


def _check_qwen(form: Form, model: str, rules: QwenModel, prompt: str) -> EditPlan | RouteError:
    images = _images(form, QWEN_MAX_IMAGES, None)
    if isinstance(images, RouteError):
        return images
    parts, facts = images
    n = _int_field(form, "n", 1, 1, rules.max_n)
    if isinstance(n, RouteError):
        return n
    response_format = _choice(form, "response_format", QWEN_RESPONSE_FORMATS, "url")
    if isinstance(response_format, RouteError):
        return response_format
    watermark = _bool_field(form, "watermark")
    if isinstance(watermark, RouteError):
        return watermark
    return EditPlan(
        model=model,
        rules=rules,
        prompt=prompt,
        images=tuple(p.data for p in parts),
        image_sizes=tuple(f.size for f in facts),
        mask=None,  # ignored by the gateway, as are size, seed and negative_prompt
        n=n,
        size=facts[0].size,  # the output follows the first input
        quality="auto",
        output_format="png",
        compression=None,
        background="opaque",
        response_format=response_format,
        watermark=watermark,
    )


_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")


def _bool_field(form: Form, name: str) -> bool | RouteError:
    """Booleans as a Go gateway parses them (``strconv.ParseBool``)."""
    raw = form.first(name)
    if raw is None:
        return False
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    return _invalid_value(name, raw, "'true' and 'false'")

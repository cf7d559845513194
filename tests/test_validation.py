"""check_request against the real GPT and qwen capabilities: every refusal says who, what, why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import respx
from conftest import EDITS_URL

from imgedit_cometapi_gpt.models import MODELS as GPT_MODELS
from imgedit_cometapi_qwen.models import MODELS as QWEN_MODELS
from imgedit_core import (
    Capabilities,
    CapabilityError,
    Client,
    EditRequest,
    ImageInput,
    InputError,
    check_request,
)
from imgedit_core.testing import make_image, make_mask

SPECS = {spec.name: spec for spec in (*GPT_MODELS, *QWEN_MODELS)}
GPT_NAMES = [spec.name for spec in GPT_MODELS]
QWEN_NAMES = [spec.name for spec in QWEN_MODELS]


def caps(model: str) -> Capabilities:
    return SPECS[model].capabilities


def image(width: int = 32, height: int = 32, **kw: Any) -> ImageInput:
    return ImageInput.from_bytes(make_image(width, height, **kw), "in.png")


def mask(width: int = 32, height: int = 32, *, alpha: bool = True) -> ImageInput:
    return ImageInput.from_bytes(make_mask(width, height, alpha=alpha), "mask.png")


def request(model: str, **changes: Any) -> EditRequest:
    fields: dict[str, Any] = {"images": (image(),), "prompt": "Add a red hat", "model": model}
    fields.update(changes)
    return EditRequest(**fields)


def check(model: str, **changes: Any) -> None:
    check_request(model, caps(model), request(model, **changes))


def refusal(model: str, **changes: Any) -> CapabilityError:
    with pytest.raises(CapabilityError) as caught:
        check(model, **changes)
    return caught.value


def assert_names(err: CapabilityError, model: str, field: str, value: str, *accepted: str) -> None:
    """The message names the model, the field, the value and what the model accepts."""
    message = str(err)
    assert err.model == model
    assert err.field == field
    assert repr(model) in message
    assert field in message
    assert value in message
    for part in accepted:
        assert part in message, f"{part!r} missing from {message!r}"


# -- valid requests -------------------------------------------------------------------------


@pytest.mark.parametrize("model", GPT_NAMES + QWEN_NAMES)
def test_minimal_request_passes(model: str) -> None:
    check(model)


def test_gpt_image_2_full_request_passes() -> None:
    check(
        "gpt-image-2",
        mask=mask(),
        n=10,
        quality="high",
        size="1536x1024",
        output_format="jpeg",
        output_compression=80,
        background="opaque",
        user="user-1",
        prompt="x" * 32000,
        images=tuple(image() for _ in range(16)),
    )


@pytest.mark.parametrize(
    "size",
    [
        "auto",
        "1024x1024",
        "2048x1152",
        "3840x2160",
        "2160x3840",
        "3072x1024",
        "1024x640",
        "2880x2880",
    ],
)
def test_gpt_image_2_custom_sizes_pass(size: str) -> None:
    check("gpt-image-2", size=size)


def test_gpt_image_1_transparent_png_with_fidelity_passes() -> None:
    check("gpt-image-1", background="transparent", input_fidelity="high", output_format="png")
    check("gpt-image-1", background="transparent")  # png is the default output
    check("gpt-image-1.5", background="transparent", output_format="webp", output_compression=0)


def test_mini_takes_low_fidelity() -> None:
    check("gpt-image-1-mini", input_fidelity="low")


def test_qwen_full_request_passes() -> None:
    check(
        "qwen-image-edit",
        images=(image(), image(), image()),
        n=1,
        response_format="url",
        extra={"watermark": False},
    )
    check("qwen-image-edit-plus", n=6, response_format="b64_json")


def test_jpeg_and_webp_inputs_pass() -> None:
    jpeg = ImageInput.from_bytes(make_image(fmt="JPEG"))
    webp = ImageInput.from_bytes(make_image(fmt="WEBP"))
    check("gpt-image-2", images=(jpeg, webp))


# -- mask ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", QWEN_NAMES)
def test_mask_refused_on_qwen(model: str) -> None:
    err = refusal(model, mask=mask())
    assert_names(err, model, "mask", "mask.png", "takes no mask")


def test_mask_must_be_png() -> None:
    jpeg_mask = ImageInput.from_bytes(make_image(fmt="JPEG"), "mask.jpg")
    with pytest.raises(InputError) as caught:
        check("gpt-image-2", mask=jpeg_mask)
    message = str(caught.value)
    assert "mask.jpg" in message
    assert "image/jpeg" in message
    assert "PNG" in message


def test_mask_without_alpha() -> None:
    with pytest.raises(InputError) as caught:
        check("gpt-image-1", mask=mask(alpha=False))
    message = str(caught.value)
    assert "mask.png" in message
    assert "alpha" in message
    assert "RGBA" in message


def test_mask_size_must_match_first_image() -> None:
    with pytest.raises(InputError) as caught:
        check("gpt-image-2", images=(image(64, 48),), mask=mask(32, 32))
    message = str(caught.value)
    assert "mask.png" in message
    assert "32x32" in message
    assert "64x48" in message
    assert "must match" in message


def test_mask_from_path_is_checked(mask_path: Path, png_path: Path) -> None:
    check(
        "gpt-image-2",
        images=(ImageInput.from_path(png_path),),
        mask=ImageInput.from_path(mask_path),
    )


def test_mask_over_size_limit() -> None:
    data = make_mask()
    big = ImageInput(filename="mask.png", media_type="image/png", content=data, size=5 * 2**20)
    with pytest.raises(InputError) as caught:
        check("gpt-image-2", mask=big)
    message = str(caught.value)
    assert "mask.png" in message
    assert "gpt-image-2" in message
    assert str(4 * 2**20) in message


# -- n ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 11, -1])
@pytest.mark.parametrize("model", GPT_NAMES)
def test_n_out_of_range_on_gpt(model: str, n: int) -> None:
    assert_names(refusal(model, n=n), model, "n", f"n={n}", "from 1 to 10")


def test_n_above_one_on_qwen_base() -> None:
    assert_names(refusal("qwen-image-edit", n=2), "qwen-image-edit", "n", "n=2", "n = 1 only")


def test_n_above_six_on_qwen_plus() -> None:
    err = refusal("qwen-image-edit-plus", n=7)
    assert_names(err, "qwen-image-edit-plus", "n", "n=7", "from 1 to 6")


@pytest.mark.parametrize("n", [True, "2", 2.0])
def test_n_must_be_an_int(n: object) -> None:
    assert refusal("gpt-image-2", n=n).field == "n"


# -- quality, output_format, background, input_fidelity, response_format, user -------------


def test_quality_not_accepted() -> None:
    err = refusal("gpt-image-2", quality="ultra")
    assert_names(err, "gpt-image-2", "quality", "'ultra'", "auto, high, low, medium")


def test_quality_not_settable_on_qwen() -> None:
    err = refusal("qwen-image-edit", quality="high")
    assert_names(err, "qwen-image-edit", "quality", "'high'", "cannot be set")


def test_output_format_not_accepted() -> None:
    err = refusal("gpt-image-1", output_format="gif")
    assert_names(err, "gpt-image-1", "output_format", "'gif'", "jpeg, png, webp")


def test_output_format_not_settable_on_qwen() -> None:
    err = refusal("qwen-image-edit-max", output_format="png")
    assert_names(err, "qwen-image-edit-max", "output_format", "'png'", "cannot be set")


def test_background_not_accepted() -> None:
    err = refusal("gpt-image-1", background="neon")
    assert_names(err, "gpt-image-1", "background", "'neon'", "auto, opaque, transparent")


def test_gpt_image_2_refuses_transparent_background() -> None:
    err = refusal("gpt-image-2", background="transparent")
    assert_names(err, "gpt-image-2", "background", "'transparent'", "auto, opaque")
    assert "transparent" not in err.accepted


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini"])
def test_transparent_background_needs_png_or_webp(model: str) -> None:
    err = refusal(model, background="transparent", output_format="jpeg")
    assert_names(err, model, "background", "'transparent'", "png or webp", "not jpeg")


def test_input_fidelity_not_settable_on_gpt_image_2() -> None:
    err = refusal("gpt-image-2", input_fidelity="high")
    assert_names(err, "gpt-image-2", "input_fidelity", "'high'", "cannot be set")


def test_mini_refuses_high_fidelity() -> None:
    err = refusal("gpt-image-1-mini", input_fidelity="high")
    assert_names(err, "gpt-image-1-mini", "input_fidelity", "'high'", "accepts low")


def test_input_fidelity_value_not_accepted() -> None:
    err = refusal("gpt-image-1", input_fidelity="extreme")
    assert_names(err, "gpt-image-1", "input_fidelity", "'extreme'", "high, low")


@pytest.mark.parametrize("model", GPT_NAMES)
@pytest.mark.parametrize("value", ["b64_json", "url"])
def test_response_format_refused_on_gpt(model: str, value: str) -> None:
    err = refusal(model, response_format=value)
    assert_names(err, model, "response_format", repr(value), "refuses the field", "Leave it out")


def test_response_format_value_not_accepted_on_qwen() -> None:
    err = refusal("qwen-image-edit", response_format="png")
    assert_names(err, "qwen-image-edit", "response_format", "'png'", "b64_json, url")


def test_user_not_settable_on_qwen() -> None:
    err = refusal("qwen-image-edit", user="someone")
    assert_names(err, "qwen-image-edit", "user", "'someone'", "cannot be set")


# -- output_compression ----------------------------------------------------------------------


def test_output_compression_with_default_png() -> None:
    err = refusal("gpt-image-2", output_compression=50)
    assert_names(err, "gpt-image-2", "output_compression", "50", "jpeg and webp", "not png")
    assert "--output-format" in str(err)


def test_output_compression_with_explicit_png() -> None:
    err = refusal("gpt-image-1", output_compression=50, output_format="png")
    assert_names(err, "gpt-image-1", "output_compression", "50", "not png")


@pytest.mark.parametrize("value", [-1, 101])
def test_output_compression_out_of_range(value: int) -> None:
    err = refusal("gpt-image-2", output_compression=value, output_format="jpeg")
    assert_names(err, "gpt-image-2", "output_compression", str(value), "0 to 100")


@pytest.mark.parametrize("value", [0, 100])
def test_output_compression_bounds_pass(value: int) -> None:
    check("gpt-image-2", output_compression=value, output_format="webp")


def test_output_compression_not_settable_on_qwen() -> None:
    err = refusal("qwen-image-edit", output_compression=50)
    assert_names(err, "qwen-image-edit", "output_compression", "50", "cannot be set")


# -- size ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini"])
def test_fixed_size_models_refuse_custom_sizes(model: str) -> None:
    err = refusal(model, size="2048x1152")
    assert_names(err, model, "size", "'2048x1152'", "1024x1024, 1024x1536, 1536x1024, auto")


@pytest.mark.parametrize(
    ("size", "problem"),
    [
        ("1000x1000", "multiples of 16"),
        ("1024x1000", "multiples of 16"),
        ("4096x1024", "aspect ratio must be at most 3:1"),
        ("1024x3088", "aspect ratio must be at most 3:1"),
        ("3840x2176", "at most 8,294,400 pixels"),
        ("4096x2304", "long side at most 3840"),
        ("2304x4096", "long side at most 3840"),
        ("512x512", "at least 655,360 pixels"),
        ("0x0", "at least 16"),
    ],
)
def test_gpt_image_2_custom_size_rule(size: str, problem: str) -> None:
    err = refusal("gpt-image-2", size=size)
    assert_names(err, "gpt-image-2", "size", repr(size), problem, "multiples of 16", "3:1")


@pytest.mark.parametrize("size", ["big", "1024*1024", "1024x", "x1024", "1024x1024x2"])
def test_gpt_image_2_malformed_size(size: str) -> None:
    err = refusal("gpt-image-2", size=size)
    assert_names(err, "gpt-image-2", "size", repr(size), "1024x1024")
    assert "WIDTHxHEIGHT" in str(err)


@pytest.mark.parametrize("model", QWEN_NAMES)
def test_size_not_settable_on_qwen(model: str) -> None:
    err = refusal(model, size="1024x1024")
    assert_names(err, model, "size", "'1024x1024'", "cannot be set", "follows the input")


# -- images ----------------------------------------------------------------------------------


def test_too_many_images_on_gpt() -> None:
    err = refusal("gpt-image-2", images=tuple(image() for _ in range(17)))
    assert_names(err, "gpt-image-2", "image", "17 images", "at most 16 input images")


@pytest.mark.parametrize("model", QWEN_NAMES)
def test_too_many_images_on_qwen(model: str) -> None:
    err = refusal(model, images=tuple(image() for _ in range(4)))
    assert_names(err, model, "image", "4 images", "at most 3 input images")


def test_gif_input_is_refused() -> None:
    gif = ImageInput.from_bytes(make_image(fmt="GIF"), "anim.gif")
    err = refusal("gpt-image-2", images=(gif,))
    assert_names(err, "gpt-image-2", "image", "anim.gif", "image/gif", "image/jpeg, image/png")


def test_image_over_size_limit() -> None:
    data = make_image()
    huge = ImageInput(filename="huge.png", media_type="image/png", content=data, size=51 * 2**20)
    with pytest.raises(InputError) as caught:
        check("gpt-image-2", images=(huge,))
    message = str(caught.value)
    assert "huge.png" in message
    assert "gpt-image-2" in message
    assert str(50 * 2**20) in message


def test_no_image() -> None:
    with pytest.raises(InputError, match="no input image"):
        check("gpt-image-2", images=())


# -- prompt ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt(prompt: str) -> None:
    with pytest.raises(InputError) as caught:
        check("gpt-image-2", prompt=prompt)
    assert "prompt is empty" in str(caught.value)


def test_over_long_prompt() -> None:
    err = refusal("gpt-image-1", prompt="x" * 32001)
    assert_names(err, "gpt-image-1", "prompt", "32001 characters", "at most 32000 characters")
    assert "x" * 100 not in str(err)  # the prompt itself is not echoed


# -- provider-specific options ---------------------------------------------------------------


def test_unknown_extra_option_on_gpt() -> None:
    err = refusal("gpt-image-2", extra={"seed": 7})
    assert_names(err, "gpt-image-2", "seed", "seed=7", "no provider-specific options")


@pytest.mark.parametrize("option", ["seed", "negative_prompt"])
def test_unknown_extra_option_on_qwen(option: str) -> None:
    err = refusal("qwen-image-edit", extra={option: "v", "watermark": True})
    assert_names(err, "qwen-image-edit", option, f"{option}='v'", "provider options are watermark")


# -- dated ids, through the client -----------------------------------------------------------


def test_dated_gpt_image_2_follows_its_rules() -> None:
    client = Client(api_key="sk-unused")
    prepared = client.prepare(
        make_image(), "Add a hat", model="gpt-image-2-2026-04-21", size="2048x1152"
    )
    assert prepared.request.model == "gpt-image-2-2026-04-21"
    with pytest.raises(CapabilityError) as caught:
        client.prepare(make_image(), "Add a hat", model="gpt-image-2-2026-04-21", size="1000x1000")
    assert_names(caught.value, "gpt-image-2-2026-04-21", "size", "'1000x1000'", "multiples of 16")


def test_dated_gpt_image_1_refuses_custom_size() -> None:
    client = Client(api_key="sk-unused")
    with pytest.raises(CapabilityError) as caught:
        client.prepare(make_image(), "Add a hat", model="gpt-image-1-2025-04-15", size="2048x1152")
    assert_names(caught.value, "gpt-image-1-2025-04-15", "size", "'2048x1152'", "auto")


def test_refusal_sends_nothing() -> None:
    with respx.mock(assert_all_called=False) as router, Client(api_key="sk-unused") as client:
        route = router.post(EDITS_URL).respond(200, json={})
        with pytest.raises(CapabilityError):
            client.edit(make_image(), "Add a hat", model="gpt-image-2", response_format="b64_json")
        with pytest.raises(CapabilityError):
            client.edit(make_image(), "Add a hat", model="qwen-image-edit", mask=make_mask())
    assert not route.called

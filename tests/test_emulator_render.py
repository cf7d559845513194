"""The emulator's edit: deterministic bytes, the requested format and size, and a change a
person can see (the masked region recoloured, or the whole image tinted; the prompt written)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from imgedit_core.emulator import Emulator
from imgedit_core.emulator.render import COLOURS, RenderSpec, render, tint_colour
from imgedit_core.testing import make_image, make_mask

EDITS_URL = "https://api.cometapi.com/v1/images/edits"
BLUE = (70, 130, 180)  # make_image's steelblue
Loader = Callable[[str], Any]


def edit(
    fields: dict[str, str | None],
    images: list[bytes] | None = None,
    mask: bytes | None = None,
    emulator: Emulator | None = None,
) -> dict[str, Any]:
    files = [
        ("image" if len(images or [0]) == 1 else "image[]", (f"{i}.png", data, "image/png"))
        for i, data in enumerate(images or [make_image(32, 32)])
    ]
    if mask is not None:
        files.append(("mask", ("mask.png", mask, "image/png")))
    given = {"model": "gpt-image-2", "prompt": "Add a red hat", "size": "1024x640", **fields}
    data = {name: value for name, value in given.items() if value is not None}  # None: left out
    req = httpx.Request(
        "POST", EDITS_URL, data=data, files=files, headers={"Authorization": "Bearer sk-t"}
    )
    response = (emulator or Emulator())(req)
    response.read()
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def images_of(body: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(item["b64_json"], validate=True) for item in body["data"]]


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(pixel: tuple[int, ...], colour: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour[:3], strict=True))


# -- determinism ---------------------------------------------------------------------------------


def test_the_same_request_gives_the_same_bytes() -> None:
    first = images_of(edit({}, mask=make_mask(32, 32)))
    render.cache_clear()  # a second, independent render, not the cache
    second = images_of(edit({}, mask=make_mask(32, 32), emulator=Emulator()))
    assert first == second


def test_a_fixed_created_makes_the_whole_answer_identical() -> None:
    emulator = Emulator(created=1781075000)
    one, two = edit({}, emulator=emulator), edit({}, emulator=emulator)
    assert one == two
    assert one["created"] == 1781075000


def test_a_different_prompt_gives_different_bytes() -> None:
    assert images_of(edit({"prompt": "Add a red hat"})) != images_of(edit({"prompt": "Add a cap"}))


# -- format and size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "pil_format", "magic"),
    [
        ({}, "PNG", b"\x89PNG\r\n\x1a\n"),
        ({"output_format": "png"}, "PNG", b"\x89PNG\r\n\x1a\n"),
        ({"output_format": "jpeg"}, "JPEG", b"\xff\xd8\xff"),
        ({"output_format": "webp", "output_compression": "40"}, "WEBP", b"RIFF"),
    ],
)
def test_b64_json_holds_the_requested_format(
    fields: dict[str, str], pil_format: str, magic: bytes
) -> None:
    body = edit(fields)
    (data,) = images_of(body)
    assert data.startswith(magic)
    assert opened(data).format == pil_format
    assert body["output_format"] == fields.get("output_format", "png")


def test_output_compression_changes_the_jpeg() -> None:
    small = images_of(edit({"output_format": "jpeg", "output_compression": "10"}))[0]
    large = images_of(edit({"output_format": "jpeg", "output_compression": "100"}))[0]
    assert len(small) < len(large)


@pytest.mark.parametrize(
    ("model", "size", "input_size", "expected"),
    [
        ("gpt-image-2", "1024x640", (32, 32), (1024, 640)),
        ("gpt-image-2", "1536x512", (32, 32), (1536, 512)),
        ("gpt-image-1", "1536x1024", (32, 32), (1536, 1024)),
        ("gpt-image-1", "auto", (32, 32), (1024, 1024)),
        ("gpt-image-1", "auto", (48, 32), (1536, 1024)),
        ("gpt-image-1", "auto", (32, 48), (1024, 1536)),
        ("gpt-image-1", None, (30, 32), (1024, 1024)),
    ],
)
def test_the_output_has_the_requested_size(
    model: str, size: str | None, input_size: tuple[int, int], expected: tuple[int, int]
) -> None:
    body = edit({"model": model, "size": size}, images=[make_image(*input_size)])
    assert opened(images_of(body)[0]).size == expected
    assert body["size"] == f"{expected[0]}x{expected[1]}"


def test_n_gives_n_different_images() -> None:
    outputs = images_of(edit({"n": "3"}))
    assert len(outputs) == 3
    assert len(set(outputs)) == 3
    assert {opened(o).size for o in outputs} == {(1024, 640)}


def test_qwen_output_is_a_png_the_size_of_the_first_input() -> None:
    body = edit(
        {"model": "qwen-image-edit", "response_format": "b64_json"},
        images=[make_image(40, 24), make_image(16, 16)],
    )
    image = opened(base64.b64decode(body["data"][0]["b64_json"]))
    assert (image.format, image.size) == ("PNG", (40, 24))


def test_a_transparent_background_has_alpha() -> None:
    body = edit({"model": "gpt-image-1", "size": "1024x1024", "background": "transparent"})
    image = opened(images_of(body)[0])
    assert body["background"] == "transparent"
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((512, 512))[3] == 255


def test_an_opaque_answer_has_no_alpha() -> None:
    assert opened(images_of(edit({"background": "opaque"}))[0]).mode == "RGB"


# -- the visible edit ------------------------------------------------------------------------------


def test_the_masked_region_is_recoloured_and_the_rest_kept() -> None:
    """make_mask: the left half is transparent (edit there), the right half opaque (keep)."""
    image = opened(images_of(edit({"prompt": "Paint it red"}, mask=make_mask(32, 32)))[0])
    inside, outside = image.getpixel((256, 320)), image.getpixel((768, 320))
    assert near(outside, BLUE)
    assert not near(inside, BLUE, 40)
    assert inside[0] > inside[2]  # towards the red the prompt names


def test_without_a_mask_the_whole_image_is_tinted() -> None:
    image = opened(images_of(edit({"prompt": "Make it green"}))[0])
    for point in ((256, 320), (768, 320)):
        pixel = image.getpixel(point)
        assert not near(pixel, BLUE)
        assert pixel[1] > BLUE[1]  # towards green


def test_the_prompt_is_written_on_a_band_at_the_bottom() -> None:
    one = opened(images_of(edit({"prompt": "Add a red hat"}))[0])
    two = opened(images_of(edit({"prompt": "Add a red cap"}))[0])
    band = (0, 600, 1024, 640)
    assert one.crop(band).tobytes() != two.crop(band).tobytes()
    middle = (0, 200, 1024, 400)
    assert one.crop(middle).tobytes() == two.crop(middle).tobytes()
    assert one.crop(band).convert("L").getextrema()[1] > 200  # white letters


def test_the_emulator_label_marks_the_top_left_corner() -> None:
    image = opened(images_of(edit({"prompt": "Add a red hat"}))[0])
    corner = image.crop((0, 0, 120, 30)).convert("L")
    assert corner.getextrema()[1] > 230  # the label's light box, unlike the tinted image


def test_the_other_input_images_show_top_right() -> None:
    body = edit({}, images=[make_image(32, 32), make_image(32, 32, color="orange")])
    image = opened(images_of(body)[0])
    assert near(image.getpixel((1024 - 60, 50)), (255, 165, 0), 20)


def test_qwen_watermark_true_marks_the_image() -> None:
    fields = {"model": "qwen-image-edit", "response_format": "b64_json"}
    plain = edit(fields, images=[make_image(256, 256)])["data"][0]["b64_json"]
    marked = edit(fields | {"watermark": "true"}, images=[make_image(256, 256)])
    assert plain != marked["data"][0]["b64_json"]


def test_tint_colour_follows_the_prompts_colour_word() -> None:
    assert tint_colour("Add a small red ribbon") == COLOURS["red"]
    assert tint_colour("no colour word") == tint_colour("no colour word")
    assert tint_colour("a blue boat", index=1) != COLOURS["blue"]


def test_render_accepts_a_spec_directly() -> None:
    data = render(RenderSpec((make_image(16, 16),), "hi", (64, 32), output_format="webp"))
    assert opened(data).size == (64, 32)


# -- usage -----------------------------------------------------------------------------------------


def test_usage_is_deterministic_and_adds_up(load_fixture: Loader) -> None:
    usage = edit({"quality": "low", "size": "1024x1024", "model": "gpt-image-1"})["usage"]
    assert set(usage) == set(load_fixture("gpt-image-2-ok.json")["usage"])
    details = usage["input_tokens_details"]
    assert usage["input_tokens"] == details["image_tokens"] + details["text_tokens"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_tokens"] == 272  # low quality, 1024x1024
    high = edit({"quality": "high", "size": "1024x1024", "model": "gpt-image-1", "n": "2"})
    assert high["usage"]["output_tokens"] == 2 * 4160


def test_the_aggregator_shape_matches_its_fixture(load_fixture: Loader) -> None:
    body = edit({}, emulator=Emulator(aggregator_extras=True))
    fixture = load_fixture("gpt-image-aggregator-extras.json")
    assert list(body) == list(fixture)
    assert set(body["usage"]) == set(fixture["usage"])
    assert set(body["usage"]["input_tokens_details"]) == set(
        fixture["usage"]["input_tokens_details"]
    )


def test_importing_the_emulator_does_not_import_pillow() -> None:
    code = "import sys, imgedit_core.emulator; assert 'PIL' not in sys.modules, 'PIL imported'"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr

"""The multipart request that actually leaves: parts, filenames, content types, fields, auth."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from conftest import EDITS_URL, TEST_KEY

from imgedit_core import CapabilityError, Client, ImageInput
from imgedit_core.testing import WireRequest, decode_request, make_image, make_mask

OK = {"created": 1, "data": [{"b64_json": base64.b64encode(make_image()).decode()}]}
QWEN_OK = {"created": 1, "data": [{"url": "https://files.example/r.png"}], "usage": {}}


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def send(router: respx.MockRouter, image: Any, **kwargs: Any) -> WireRequest:
    """Edit through a Client with the route mocked; return the request as it was sent."""
    route = router.post(EDITS_URL).respond(200, json=QWEN_OK if _is_qwen(kwargs) else OK)
    kwargs.setdefault("model", "gpt-image-2")
    with Client(api_key=TEST_KEY) as client:
        client.edit(image, kwargs.pop("prompt", "Add a red hat"), **kwargs)
    assert route.call_count == 1
    return decode_request(route.calls.last.request)


def _is_qwen(kwargs: dict[str, Any]) -> bool:
    return str(kwargs.get("model", "")).startswith("qwen")


# -- target and headers ----------------------------------------------------------------------


def test_post_to_edits_with_bearer_key(router: respx.MockRouter) -> None:
    route = router.post(EDITS_URL).respond(200, json=OK)
    with Client(api_key=TEST_KEY) as client:
        client.edit(make_image(), "Add a red hat")
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert str(sent.url) == EDITS_URL
    assert sent.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert TEST_KEY not in str(sent.url)


def test_decoded_view_redacts_the_key(router: respx.MockRouter) -> None:
    wire = send(router, make_image())
    assert TEST_KEY not in repr(wire.to_dict())
    assert wire.headers["authorization"] == "<redacted>"


# -- file parts --------------------------------------------------------------------------------


def test_one_path_image_is_part_image(router: respx.MockRouter, png_path: Path) -> None:
    wire = send(router, png_path)
    assert [(f.name, f.filename, f.content_type) for f in wire.files] == [
        ("image", "boat.png", "image/png")
    ]
    assert wire.files[0].data == png_path.read_bytes()
    assert wire.files_named("image[]") == []


def test_jpeg_path_is_sent_as_image_jpeg(router: respx.MockRouter, jpeg_path: Path) -> None:
    wire = send(router, str(jpeg_path))
    part = wire.files_named("image")[0]
    assert (part.filename, part.content_type) == ("photo.jpg", "image/jpeg")
    assert part.data == jpeg_path.read_bytes()


def test_png_named_jpg_is_sent_as_image_png(router: respx.MockRouter, tmp_path: Path) -> None:
    lying = tmp_path / "lying.jpg"
    lying.write_bytes(make_image(fmt="PNG"))
    part = send(router, lying).files_named("image")[0]
    assert part.content_type == "image/png"
    assert part.data == lying.read_bytes()


def test_webp_is_sent_as_image_webp(router: respx.MockRouter) -> None:
    part = send(router, make_image(fmt="WEBP")).files_named("image")[0]
    assert (part.filename, part.content_type) == ("image.webp", "image/webp")


@pytest.mark.parametrize(
    ("fmt", "filename", "content_type"),
    [("PNG", "image.png", "image/png"), ("JPEG", "image.jpg", "image/jpeg")],
)
def test_raw_bytes_get_a_real_filename(
    router: respx.MockRouter, fmt: str, filename: str, content_type: str
) -> None:
    data = make_image(fmt=fmt)
    part = send(router, data).files_named("image")[0]
    assert (part.filename, part.content_type, part.data) == (filename, content_type, data)


def test_file_object_keeps_its_name(router: respx.MockRouter, jpeg_path: Path) -> None:
    with jpeg_path.open("rb") as fh:
        part = send(router, fh).files_named("image")[0]
    assert (part.filename, part.content_type) == ("photo.jpg", "image/jpeg")


def test_nameless_file_object(router: respx.MockRouter) -> None:
    part = send(router, io.BytesIO(make_image(fmt="JPEG"))).files_named("image")[0]
    assert (part.filename, part.content_type) == ("image.jpg", "image/jpeg")


def test_several_images_are_image_array_parts_in_order(
    router: respx.MockRouter, png_path: Path, jpeg_path: Path
) -> None:
    third = ImageInput.from_bytes(make_image(color="red"), "third.png")
    wire = send(router, [png_path, jpeg_path, third])
    assert wire.files_named("image") == []
    parts = wire.files_named("image[]")
    assert [(p.filename, p.content_type) for p in parts] == [
        ("boat.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("third.png", "image/png"),
    ]
    assert [p.data for p in parts] == [png_path.read_bytes(), jpeg_path.read_bytes(), third.read()]


def test_a_one_item_list_is_part_image(router: respx.MockRouter, png_path: Path) -> None:
    wire = send(router, [png_path])
    assert [f.name for f in wire.files] == ["image"]


def test_mask_part(router: respx.MockRouter, png_path: Path, mask_path: Path) -> None:
    wire = send(router, png_path, mask=mask_path)
    masks = wire.files_named("mask")
    assert [(m.filename, m.content_type) for m in masks] == [("mask.png", "image/png")]
    assert masks[0].data == mask_path.read_bytes()
    assert [f.name for f in wire.files] == ["image", "mask"]


def test_mask_from_bytes_is_a_png_part(router: respx.MockRouter) -> None:
    mask = make_mask()
    part = send(router, make_image(), mask=mask).files_named("mask")[0]
    assert part.content_type == "image/png"
    assert part.filename is not None
    assert part.filename.endswith(".png")
    assert part.data == mask


def test_no_part_is_octet_stream(router: respx.MockRouter, png_path: Path) -> None:
    wire = send(router, [png_path, make_image(fmt="JPEG")], mask=make_mask())
    assert len(wire.files) == 3
    for part in wire.files:
        assert part.content_type in ("image/png", "image/jpeg"), part
        assert part.filename


# -- form fields -----------------------------------------------------------------------------


def test_only_prompt_and_model_by_default(router: respx.MockRouter) -> None:
    wire = send(router, make_image(), prompt="Add a red hat")
    assert wire.fields == {"prompt": ["Add a red hat"], "model": ["gpt-image-2"]}


def test_default_model_is_gpt_image_2(router: respx.MockRouter) -> None:
    route = router.post(EDITS_URL).respond(200, json=OK)
    with Client(api_key=TEST_KEY) as client:
        client.edit(make_image(), "Add a red hat")
    assert decode_request(route.calls.last.request).field("model") == "gpt-image-2"


def test_dated_model_sent_as_given(router: respx.MockRouter) -> None:
    wire = send(router, make_image(), model="gpt-image-2-2026-04-21")
    assert wire.field("model") == "gpt-image-2-2026-04-21"


def test_unicode_prompt_is_sent_intact(router: respx.MockRouter) -> None:
    prompt = 'Füge einen "roten" Hut hinzu 🎩\nzweite Zeile'
    assert send(router, make_image(), prompt=prompt).field("prompt") == prompt


def test_given_options_are_sent_as_text(router: respx.MockRouter) -> None:
    wire = send(
        router,
        make_image(),
        n=3,
        quality="high",
        size="2048x1152",
        output_format="jpeg",
        output_compression=70,
        background="opaque",
        user="user-42",
    )
    assert wire.fields == {
        "prompt": ["Add a red hat"],
        "model": ["gpt-image-2"],
        "n": ["3"],
        "quality": ["high"],
        "size": ["2048x1152"],
        "output_format": ["jpeg"],
        "output_compression": ["70"],
        "background": ["opaque"],
        "user": ["user-42"],
    }


def test_input_fidelity_sent_for_gpt_image_1(router: respx.MockRouter) -> None:
    wire = send(router, make_image(), model="gpt-image-1", input_fidelity="high")
    assert wire.field("input_fidelity") == "high"
    assert set(wire.fields) == {"prompt", "model", "input_fidelity"}


def test_none_options_are_not_sent(router: respx.MockRouter) -> None:
    wire = send(router, make_image(), n=None, quality=None, size=None, mask=None)
    assert set(wire.fields) == {"prompt", "model"}
    assert [f.name for f in wire.files] == ["image"]


@pytest.mark.parametrize(
    "model", ["gpt-image-2", "gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini"]
)
def test_response_format_never_reaches_gpt(router: respx.MockRouter, model: str) -> None:
    route = router.post(EDITS_URL).respond(200, json=OK)
    with Client(api_key=TEST_KEY) as client:
        client.edit(make_image(), "Add a red hat", model=model)
        with pytest.raises(CapabilityError):
            client.edit(make_image(), "Add a red hat", model=model, response_format="b64_json")
    assert route.call_count == 1
    assert "response_format" not in decode_request(route.calls.last.request).fields


# -- qwen ------------------------------------------------------------------------------------


def test_qwen_watermark_false_is_sent_as_false(router: respx.MockRouter) -> None:
    wire = send(router, make_image(), model="qwen-image-edit", extra={"watermark": False})
    assert wire.field("watermark") == "false"
    assert set(wire.fields) == {"prompt", "model", "watermark"}


def test_qwen_watermark_true(router: respx.MockRouter) -> None:
    wire = send(router, make_image(), model="qwen-image-edit", extra={"watermark": True})
    assert wire.field("watermark") == "true"


def test_qwen_minimal_request(router: respx.MockRouter) -> None:
    wire = send(router, make_image(), model="qwen-image-edit")
    assert wire.fields == {"prompt": ["Add a red hat"], "model": ["qwen-image-edit"]}


def test_qwen_response_format_when_given(router: respx.MockRouter) -> None:
    wire = send(router, make_image(), model="qwen-image-edit", response_format="url")
    assert wire.field("response_format") == "url"


def test_qwen_several_images(router: respx.MockRouter) -> None:
    images = [make_image(color=c) for c in ("red", "green", "blue")]
    wire = send(router, images, model="qwen-image-edit-plus", n=2)
    assert [p.data for p in wire.files_named("image[]")] == images
    assert wire.field("n") == "2"


def test_qwen_unknown_extra_is_not_sent(router: respx.MockRouter) -> None:
    route = router.post(EDITS_URL).respond(200, json=QWEN_OK)
    with Client(api_key=TEST_KEY) as client, pytest.raises(CapabilityError):
        client.edit(make_image(), "x", model="qwen-image-edit", extra={"seed": 1})
    assert not route.called

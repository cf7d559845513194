"""imgedit's real Client, end to end, over the in-process emulator: nothing mocked but the wire."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imgedit_core import AuthenticationError, CapabilityError, Client
from imgedit_core.emulator import Emulator, offline_http_client
from imgedit_core.testing import make_image, make_mask

GPT = "cometapi-gpt-image"
QWEN = "cometapi-qwen-image-edit"
BLUE = (70, 130, 180)


def offline(emulator: Emulator | None = None) -> Client:
    return Client(http_client=offline_http_client(emulator=emulator), api_key="offline")


def test_gpt_image_2_with_a_mask() -> None:
    emulator = Emulator()
    with offline(emulator) as client:
        result = client.edit(
            make_image(32, 32),
            "Add a red hat",
            model="gpt-image-2",
            provider=GPT,
            mask=make_mask(32, 32),
            size="1024x640",
            quality="low",
        )
        image = Image.open(io.BytesIO(result.images[0].data)).convert("RGB")
    assert (result.size, result.quality, result.output_format) == ("1024x640", "low", "png")
    assert result.usage is not None
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert image.size == (1024, 640)
    left, right = image.getpixel((256, 320)), image.getpixel((768, 320))
    assert right == BLUE  # outside the mask: kept
    assert left != BLUE  # inside: recoloured...
    assert left[0] > left[2]  # ...towards red
    (record,) = emulator.requests
    assert (record.method, record.path, record.status) == ("POST", "/v1/images/edits", 200)


def test_gpt_jpeg_output_and_several_images() -> None:
    with offline() as client:
        result = client.edit(
            [make_image(32, 32), make_image(32, 32, color="orange")],
            "Make it dusk",
            model="gpt-image-1",
            provider=GPT,
            n=2,
            output_format="jpeg",
            output_compression=60,
        )
        assert [img.media_type for img in result.images] == ["image/jpeg", "image/jpeg"]
        assert result.images[0].data != result.images[1].data


def test_qwen_image_edit_url_output_is_downloaded() -> None:
    emulator = Emulator()
    with offline(emulator) as client:
        result = client.edit(
            make_image(40, 24), "Add a flag", model="qwen-image-edit", provider=QWEN
        )
        image = result.images[0]
        assert image.url is not None
        assert image.url.startswith("https://api.cometapi.com/v1/emulator/files/")
        data = image.data
    assert Image.open(io.BytesIO(data)).size == (40, 24)
    assert [(r.method, r.status) for r in emulator.requests] == [("POST", 200), ("GET", 200)]


def test_qwen_plus_several_results() -> None:
    with offline() as client:
        result = client.edit(
            [make_image(32, 32), make_image(16, 16)],
            "Add a flag",
            model="qwen-image-edit-plus",
            provider=QWEN,
            n=3,
            extra={"watermark": False},
        )
        assert len({img.data for img in result.images}) == 3


def test_a_key_the_route_refuses_is_an_authentication_error() -> None:
    emulator = Emulator(api_keys={"sk-the-right-one"})
    with offline(emulator) as client, pytest.raises(AuthenticationError) as caught:
        client.edit(make_image(32, 32), "Add a hat", model="gpt-image-2", provider=GPT)
    assert caught.value.status == 401
    assert caught.value.request_id  # moved out of the message by imgedit


def test_imgedit_refuses_gpt_image_2_sizes_below_the_pixel_floor_before_sending() -> None:
    with offline() as client, pytest.raises(CapabilityError):
        client.prepare(
            make_image(32, 32), "Add a hat", model="gpt-image-2", provider=GPT, size="512x512"
        )

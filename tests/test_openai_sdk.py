"""Proof from the other side: the official openai SDK against the loopback emulator.

What the SDK accepts and what it raises is an independent check of the emulator's wire format
and error envelopes. How the SDK labels file parts matters: bare bytes go as a part named
``upload`` with ``application/octet-stream`` (httpx guesses the type from the filename), which
the route refuses; a ``(filename, bytes, "image/png")`` tuple, or a file opened from a ``.png``
path, is labelled as an image and accepted.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from imgedit_core.emulator import FAULT_HEADER, Emulator, EmulatorServer
from imgedit_core.testing import make_image, make_mask

pytestmark = pytest.mark.integration

KEY = "sk-openai-sdk-test"
PNG = make_image(32, 32)


def png(name: str = "boat.png", data: bytes = PNG) -> tuple[str, bytes, str]:
    return (name, data, "image/png")


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator(api_keys={KEY})) as running:
        yield running


@pytest.fixture
def sdk(server: EmulatorServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(
        base_url=server.base_url,
        api_key=KEY,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(trust_env=False),
    )
    yield client
    client.close()


def decoded(b64: str | None) -> Image.Image:
    assert b64 is not None
    image = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    image.load()
    return image


def test_sdk_version_is_one_we_read() -> None:
    assert int(openai.__version__.split(".")[0]) >= 1


# -- GPT image models ------------------------------------------------------------------------------


def test_gpt_edit_one_image(sdk: openai.OpenAI) -> None:
    result = sdk.images.edit(
        image=png(), prompt="Add a red hat", model="gpt-image-2", size="1024x640", quality="low"
    )
    assert (result.size, result.quality, result.output_format) == ("1024x640", "low", "png")
    assert result.usage is not None
    assert result.usage.total_tokens > 0
    assert result.data is not None
    assert decoded(result.data[0].b64_json).size == (1024, 640)


def test_gpt_edit_with_a_mask(sdk: openai.OpenAI) -> None:
    result = sdk.images.edit(
        image=png(),
        mask=png("mask.png", make_mask(32, 32)),
        prompt="Paint it red",
        model="gpt-image-1",
        size="1024x1024",
    )
    assert result.data is not None
    image = decoded(result.data[0].b64_json).convert("RGB")
    left, right = image.getpixel((256, 512)), image.getpixel((768, 512))
    assert right == (70, 130, 180)  # outside the mask: kept
    assert left[0] > left[2]  # inside: recoloured towards red


def test_gpt_edit_several_images_and_results(sdk: openai.OpenAI) -> None:
    result = sdk.images.edit(
        image=[png("a.png"), png("b.png", make_image(32, 32, color="orange"))],
        prompt="Combine them",
        model="gpt-image-1.5",
        n=2,
        output_format="webp",
        size="1536x1024",
    )
    assert result.data is not None
    assert len(result.data) == 2
    assert {decoded(d.b64_json).format for d in result.data} == {"WEBP"}


def test_a_file_opened_from_a_png_path_is_labelled_right(
    sdk: openai.OpenAI, tmp_path: Path
) -> None:
    path = tmp_path / "boat.png"
    path.write_bytes(PNG)
    with path.open("rb") as image:
        result = sdk.images.edit(image=image, prompt="Add a flag", model="gpt-image-1-mini")
    assert result.data is not None
    assert decoded(result.data[0].b64_json).size == (1024, 1024)


# -- qwen ------------------------------------------------------------------------------------------


def test_qwen_answers_a_url_on_the_same_server(sdk: openai.OpenAI, server: EmulatorServer) -> None:
    result = sdk.images.edit(image=png(), prompt="Add a flag", model="qwen-image-edit")
    assert result.data is not None
    (item,) = result.data
    assert item.url is not None
    assert item.url.startswith(server.origin)
    assert item.b64_json is None
    download = httpx.get(item.url)
    assert download.status_code == 200
    assert Image.open(io.BytesIO(download.content)).size == (32, 32)


def test_qwen_plus_several_images_with_b64(sdk: openai.OpenAI) -> None:
    result = sdk.images.edit(
        image=[png("a.png"), png("b.png")],
        prompt="Add a flag",
        model="qwen-image-edit-plus",
        n=2,
        response_format="b64_json",
    )
    assert result.data is not None
    assert [d.url is not None for d in result.data] == [True, True]
    assert decoded(result.data[1].b64_json).size == (32, 32)


# -- errors, as the SDK's typed exceptions ---------------------------------------------------------


def test_bare_bytes_go_as_octet_stream_and_are_refused(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(image=PNG, prompt="Add a hat", model="gpt-image-2")
    assert caught.value.status_code == 400
    assert (caught.value.code, caught.value.param) == ("unsupported_file_mimetype", "image")
    assert "application/octet-stream" in caught.value.message


def test_response_format_to_gpt_is_unknown_parameter(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(image=png(), prompt="Add a hat", model="gpt-image-2", response_format="url")
    assert (caught.value.code, caught.value.param) == ("unknown_parameter", "response_format")


def test_a_mask_without_alpha(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(
            image=png(),
            mask=png("mask.png", make_mask(32, 32, alpha=False)),
            prompt="Add a hat",
            model="gpt-image-2",
        )
    assert caught.value.code == "invalid_mask_image_format"
    assert caught.value.type == "image_generation_user_error"


@pytest.mark.parametrize(
    ("options", "code", "param"),
    [
        ({"size": "1000x1000"}, "invalid_value", "size"),
        ({"n": 11}, "integer_above_max_value", "n"),
        (
            {"model": "gpt-image-1-mini", "input_fidelity": "high"},
            "invalid_value",
            "input_fidelity",
        ),
        (
            {"background": "transparent", "output_format": "jpeg", "model": "gpt-image-1"},
            "invalid_value",
            "background",
        ),
        ({"model": "qwen-image-edit", "n": 2}, "integer_above_max_value", "n"),
    ],
)
def test_field_refusals(
    sdk: openai.OpenAI, options: dict[str, object], code: str, param: str
) -> None:
    kwargs: dict[str, object] = {"model": "gpt-image-2", **options}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(image=png(), prompt="Add a hat", **kwargs)  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.param) == (code, param)


def test_a_missing_model_is_cometapis_400(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(image=png(), prompt="Add a hat")
    assert caught.value.type == "comet_api_error"
    assert "model name is required (request id: " in caught.value.message


def test_a_wrong_key_is_an_authentication_error(server: EmulatorServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong", max_retries=0)
    with client, pytest.raises(openai.AuthenticationError) as caught:
        client.images.edit(image=png(), prompt="Add a hat", model="gpt-image-2")
    assert caught.value.status_code == 401


def test_an_unknown_model_is_not_found(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.images.edit(image=png(), prompt="Add a hat", model="gpt-image-9")
    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("429:retry-after=0", openai.RateLimitError),
        ("503", openai.InternalServerError),
        ("524", openai.InternalServerError),
        ("409", openai.ConflictError),
        ("invalid-request", openai.InternalServerError),
        ("reset", openai.APIConnectionError),
    ],
)
def test_faults_arrive_as_typed_errors(
    sdk: openai.OpenAI, fault: str, error: type[openai.OpenAIError]
) -> None:
    with pytest.raises(error):
        sdk.images.edit(
            image=png(),
            prompt="Add a hat",
            model="gpt-image-2",
            extra_headers={FAULT_HEADER: fault},
        )


def test_the_sdk_retries_503_twice_then_succeeds() -> None:
    emulator = Emulator(faults=["503:retry-after-ms=5*2"])
    with EmulatorServer(emulator) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=2)
        with client:
            result = client.images.edit(
                image=png(), prompt="Add a hat", model="gpt-image-2", size="1024x640"
            )
        assert result.data is not None
        assert [r.status for r in server.requests] == [503, 503, 200]

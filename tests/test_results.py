"""Answers through Client.edit: the bytes, their type, usage, metadata, downloads and saving."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from conftest import EDITS_URL, TEST_KEY

from imgedit_core import (
    Client,
    EditedImage,
    EditResult,
    InvalidResponseError,
    OutputError,
)
from imgedit_core import result as result_module
from imgedit_core.testing import make_image

Loader = Callable[[str], Any]
QWEN_URL = "https://dashscope-result.example/1d/7f/result.png?Expires=1781161400&Signature=abc"


def b64_of(body: dict[str, Any], index: int = 0) -> bytes:
    return base64.b64decode(body["data"][index]["b64_json"])


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(api_key=TEST_KEY) as c:
        yield c


def edit(client: Client, router: respx.MockRouter, body: Any, **kwargs: Any) -> EditResult:
    router.post(EDITS_URL).respond(200, json=body)
    kwargs.setdefault("model", "gpt-image-2")
    return client.edit(make_image(), "Add a hat", **kwargs)


# -- b64_json answers ------------------------------------------------------------------------


def test_gpt_image_2_answer(client: Client, router: respx.MockRouter, load_fixture: Loader) -> None:
    body = load_fixture("gpt-image-2-ok.json")
    result = edit(client, router, body)
    assert len(result.images) == 1
    image = result.image
    assert image.data == b64_of(body)
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.media_type == "image/png"
    assert image.extension == "png"
    assert image.url is None
    assert result.model == "gpt-image-2"
    assert result.provider == "cometapi-gpt-image"
    assert result.created == 1781075000
    assert (result.size, result.quality, result.background, result.output_format) == (
        "1024x1024",
        "low",
        "opaque",
        "png",
    )


def test_gpt_image_2_usage(client: Client, router: respx.MockRouter, load_fixture: Loader) -> None:
    body = load_fixture("gpt-image-2-ok.json")
    usage = edit(client, router, body).usage
    assert usage is not None
    assert usage.to_dict() == {
        "input_tokens": 784,
        "output_tokens": 196,
        "total_tokens": 980,
        "input_image_tokens": 768,
        "input_text_tokens": 16,
    }
    assert usage.raw["output_tokens_details"] == {"image_tokens": 196, "text_tokens": 0}


def test_dated_model_is_reported_as_sent(
    client: Client, router: respx.MockRouter, load_fixture: Loader
) -> None:
    result = edit(
        client, router, load_fixture("gpt-image-2-ok.json"), model="gpt-image-2-2026-04-21"
    )
    assert result.model == "gpt-image-2-2026-04-21"


def test_aggregator_answer_with_jpeg_inside(
    client: Client, router: respx.MockRouter, load_fixture: Loader
) -> None:
    body = load_fixture("gpt-image-aggregator-extras.json")
    result = edit(client, router, body, model="gpt-image-1")
    image = result.image
    assert image.data == b64_of(body)
    assert image.media_type == "image/jpeg"
    assert image.extension == "jpg"
    # The aggregator leaves the top-level echo fields out: None, not an error.
    assert result.output_format is None
    assert result.background is None
    assert result.quality is None
    assert result.size is None
    usage = result.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (784, 196, 980)
    assert (usage.input_image_tokens, usage.input_text_tokens) == (768, 16)
    assert usage.raw["prompt_tokens"] == 0
    assert usage.raw["claude_cache_creation_5_m_tokens"] == 0


def test_bytes_beat_the_declared_output_format(
    client: Client, router: respx.MockRouter, load_fixture: Loader
) -> None:
    body = load_fixture("gpt-image-aggregator-extras.json")
    body["output_format"] = "png"  # announced png, sent JPEG bytes
    image = edit(client, router, body).image
    assert image.media_type == "image/jpeg"


def test_two_images(client: Client, router: respx.MockRouter, load_fixture: Loader) -> None:
    body = load_fixture("gpt-image-n2-ok.json")
    result = edit(client, router, body, n=2, quality="medium", size="1536x1024")
    assert [img.data for img in result.images] == [b64_of(body, 0), b64_of(body, 1)]
    assert all(img.media_type == "image/png" for img in result.images)
    assert result.image is result.images[0]
    assert (result.size, result.quality) == ("1536x1024", "medium")
    assert result.usage is not None
    assert result.usage.total_tokens == 1192
    assert result.usage.input_image_tokens == 784


def test_metadata_keeps_every_top_level_field_but_data(
    client: Client, router: respx.MockRouter, load_fixture: Loader
) -> None:
    body = load_fixture("gpt-image-2-ok.json")
    body["x_gateway"] = {"node": "eu-1"}
    result = edit(client, router, body)
    assert "data" not in result.metadata
    assert result.metadata["x_gateway"] == {"node": "eu-1"}
    assert result.metadata["usage"] == body["usage"]
    assert result.metadata["created"] == 1781075000


def test_unknown_fields_in_data_items_are_tolerated(
    client: Client, router: respx.MockRouter
) -> None:
    png = make_image(color="green")
    body = {"data": [{"b64_json": base64.b64encode(png).decode(), "revised_prompt": "a hat",
                      "seed": 4}]}  # fmt: skip
    result = edit(client, router, body)
    assert result.image.data == png
    assert result.image.revised_prompt == "a hat"
    assert result.created is None
    assert result.usage is None


def test_invalid_base64_is_invalid_response(client: Client, router: respx.MockRouter) -> None:
    result = edit(client, router, {"data": [{"b64_json": "not base64!!"}]})
    with pytest.raises(InvalidResponseError, match="not valid base64"):
        _ = result.image.data


def test_base64_of_a_non_image_is_invalid_response(
    client: Client, router: respx.MockRouter
) -> None:
    text = base64.b64encode(b"<html>oops</html>").decode()
    result = edit(client, router, {"data": [{"b64_json": text}]})
    with pytest.raises(InvalidResponseError, match="does not decode to an image"):
        _ = result.image.data


@pytest.mark.parametrize(
    "body",
    [{"created": 1}, {"data": []}, {"data": [{}]}, {"data": ["iVBOR"]}, {"data": {"b64_json": ""}}],
)
def test_answers_without_images(client: Client, router: respx.MockRouter, body: Any) -> None:
    with pytest.raises(InvalidResponseError):
        edit(client, router, body)


def test_non_json_200(client: Client, router: respx.MockRouter) -> None:
    router.post(EDITS_URL).respond(
        200, text="<html>ok</html>", headers={"content-type": "text/html"}
    )
    with pytest.raises(InvalidResponseError) as caught:
        client.edit(make_image(), "Add a hat")
    assert "expected JSON" in str(caught.value)
    assert "text/html" in str(caught.value)


# -- decoded once -----------------------------------------------------------------------------


def test_decoding_happens_once(
    client: Client,
    router: respx.MockRouter,
    load_fixture: Loader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = load_fixture("gpt-image-2-ok.json")
    image = edit(client, router, body).image
    assert image.b64_json == body["data"][0]["b64_json"]
    calls: list[str] = []
    real = result_module.decode_b64_image

    def counting(text: str) -> bytes:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(result_module, "decode_b64_image", counting)
    first = image.data
    assert image.b64_json is None  # the text is dropped once decoded
    assert image.data is first
    assert image.media_type == "image/png"
    assert len(calls) == 1


def test_repr_does_not_dump_base64(
    client: Client, router: respx.MockRouter, load_fixture: Loader
) -> None:
    body = load_fixture("gpt-image-2-ok.json")
    image = edit(client, router, body).image
    assert body["data"][0]["b64_json"] not in repr(image)
    _ = image.data
    assert repr(image) == f"EditedImage(image/png, {len(image.data)} bytes)"


# -- URL answers (qwen) -------------------------------------------------------------------------


def test_qwen_url_is_downloaded_through_the_client(
    client: Client, router: respx.MockRouter, load_fixture: Loader
) -> None:
    body = load_fixture("qwen-image-edit-ok.json")
    png = make_image(64, 64, color="purple")
    download = router.get(QWEN_URL).respond(200, content=png, headers={"content-type": "image/png"})
    result = edit(client, router, body, model="qwen-image-edit")
    assert result.provider == "cometapi-qwen-image-edit"
    assert result.image.url == QWEN_URL
    assert not download.called  # downloaded on first access, not before
    assert result.image.data == png
    assert result.image.data == png
    assert download.call_count == 1
    assert result.image.media_type == "image/png"
    assert result.usage is None  # qwen sends "usage": {}
    assert result.metadata["metadata"]["request_id"] == "7c1e-example"
    assert result.created == 1781075000
    assert TEST_KEY not in str(download.calls.last.request.headers.get("authorization", ""))


def test_qwen_url_404(client: Client, router: respx.MockRouter, load_fixture: Loader) -> None:
    router.get(QWEN_URL).respond(404, text="expired")
    result = edit(client, router, load_fixture("qwen-image-edit-ok.json"), model="qwen-image-edit")
    with pytest.raises(InvalidResponseError) as caught:
        _ = result.image.data
    message = str(caught.value)
    assert "HTTP 404" in message
    assert "dashscope-result.example/1d/7f/result.png" in message
    assert "Signature" not in message  # signed query strings are credentials


def test_qwen_url_not_an_image(
    client: Client, router: respx.MockRouter, load_fixture: Loader
) -> None:
    router.get(QWEN_URL).respond(
        200, text="<html>login</html>", headers={"content-type": "text/html"}
    )
    result = edit(client, router, load_fixture("qwen-image-edit-ok.json"), model="qwen-image-edit")
    with pytest.raises(InvalidResponseError, match="not an image"):
        _ = result.image.data


def test_qwen_url_too_large(client: Client, router: respx.MockRouter, load_fixture: Loader) -> None:
    png = make_image(64, 64)
    router.get(QWEN_URL).respond(200, content=png)
    result = edit(client, router, load_fixture("qwen-image-edit-ok.json"), model="qwen-image-edit")
    client.transport.max_download_bytes = len(png) - 1
    with pytest.raises(InvalidResponseError) as caught:
        _ = result.image.data
    assert f"larger than {len(png) - 1} bytes" in str(caught.value)
    client.transport.max_download_bytes = len(png)
    assert result.image.data == png


def test_qwen_url_connection_failure(
    client: Client, router: respx.MockRouter, load_fixture: Loader
) -> None:
    from imgedit_core import APIConnectionError

    router.get(QWEN_URL).mock(side_effect=httpx.ConnectError("refused"))
    result = edit(client, router, load_fixture("qwen-image-edit-ok.json"), model="qwen-image-edit")
    with pytest.raises(APIConnectionError) as caught:
        _ = result.image.data
    assert "Signature" not in str(caught.value)


def test_non_http_url_is_refused(client: Client, router: respx.MockRouter) -> None:
    result = edit(
        client, router, {"data": [{"url": "file:///etc/passwd"}]}, model="qwen-image-edit"
    )
    with pytest.raises(InvalidResponseError, match="'file'"):
        _ = result.image.data


def test_url_downloadable_after_client_closed(load_fixture: Loader) -> None:
    png = make_image(color="orange")
    with respx.mock() as router:
        router.post(EDITS_URL).respond(200, json=load_fixture("qwen-image-edit-ok.json"))
        download = router.get(QWEN_URL).respond(200, content=png)
        with Client(api_key=TEST_KEY) as client:
            result = client.edit(make_image(), "Add a hat", model="qwen-image-edit")
        assert result.image.data == png
    assert download.call_count == 1


def test_b64_alongside_url_needs_no_download(client: Client, router: respx.MockRouter) -> None:
    # qwen with response_format=b64_json answers both; the bytes at hand are used.
    png = make_image(color="teal")
    body = {"data": [{"url": QWEN_URL, "b64_json": base64.b64encode(png).decode()}], "usage": {}}
    download = router.get(QWEN_URL).respond(500)
    result = edit(client, router, body, model="qwen-image-edit", response_format="b64_json")
    assert result.image.data == png
    assert result.image.url == QWEN_URL
    assert not download.called


def test_unattached_url_image_is_invalid_response() -> None:
    with pytest.raises(InvalidResponseError, match="no client is attached"):
        _ = EditedImage(url="https://x.example/a.png").data


# -- saving ---------------------------------------------------------------------------------------


@pytest.fixture
def image(client: Client, router: respx.MockRouter, load_fixture: Loader) -> EditedImage:
    return edit(client, router, load_fixture("gpt-image-2-ok.json")).image


def part_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".part")]


def test_save_writes_the_exact_bytes(image: EditedImage, tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    assert image.save(target) == target
    assert target.read_bytes() == image.data
    assert part_files(tmp_path) == []


def test_saved_file_follows_the_umask(image: EditedImage, tmp_path: Path) -> None:
    # The temporary file is private (0600); the result must not stay that way.
    umask = os.umask(0o022)
    try:
        target = image.save(tmp_path / "out.png")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_save_creates_missing_folders(image: EditedImage, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.png"
    image.save(str(target))
    assert target.read_bytes() == image.data
    assert part_files(target.parent) == []


def test_save_refuses_to_overwrite(image: EditedImage, tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"the original")
    with pytest.raises(OutputError) as caught:
        image.save(target)
    assert str(target) in str(caught.value)
    assert "overwrite=True" in str(caught.value)
    assert target.read_bytes() == b"the original"
    assert part_files(tmp_path) == []


def test_save_overwrites_when_asked(image: EditedImage, tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"the original")
    image.save(target, overwrite=True)
    assert target.read_bytes() == image.data
    assert part_files(tmp_path) == []


def test_overwrite_replaces_the_file_not_its_contents(image: EditedImage, tmp_path: Path) -> None:
    # An atomic rename: a reader holding the old file keeps seeing the whole old file.
    target = tmp_path / "out.png"
    target.write_bytes(b"the original")
    with target.open("rb") as reader:
        image.save(target, overwrite=True)
        assert reader.read() == b"the original"
    assert target.read_bytes() == image.data


def test_failed_write_leaves_the_original_and_no_temp_file(
    image: EditedImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"the original")
    data = image.data

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OutputError, match="No space left on device"):
        image.save(target, overwrite=True)
    assert target.read_bytes() == b"the original"
    assert part_files(tmp_path) == []
    assert image.data == data


def test_save_into_a_file_posing_as_folder(image: EditedImage, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(OutputError) as caught:
        image.save(blocker / "out.png")
    assert "not-a-folder" in str(caught.value)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b64: f"data:image/png;base64,{b64}",
        lambda b64: "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)),
    ],
    ids=["data-url", "line-wrapped"],
)
def test_b64_wrapped_by_a_gateway_still_decodes(wrap: Callable[[str], str]) -> None:
    from imgedit_core.result import decode_b64_image

    png = make_image(40, 40)
    assert decode_b64_image(wrap(base64.b64encode(png).decode())) == png


def test_repr_of_an_undownloaded_url_image_hides_the_signature() -> None:
    from imgedit_core import EditedImage

    image = EditedImage(url="https://cdn.example/r.png?Expires=1&Signature=secret-sig")
    assert "secret-sig" not in repr(image)
    assert "https://cdn.example/r.png" in repr(image)

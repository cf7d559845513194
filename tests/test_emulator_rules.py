"""The emulator accepts what CometAPI's edit route accepts and refuses what it refuses, with the
route's status, error envelope, code and param (shapes copied from tests/fixtures)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
import respx
from PIL import Image

from imgedit_core.emulator import Emulator, offline_http_client
from imgedit_core.emulator import rules as emulator_rules
from imgedit_core.emulator.multipart import parse_form
from imgedit_core.testing import make_image, make_mask

EDITS_URL = "https://api.cometapi.com/v1/images/edits"
KEY = "sk-emulator-test"
PNG = make_image(32, 32)
Loader = Callable[[str], Any]
FilePart = tuple[str, tuple[str, bytes, str]]


def request(
    fields: dict[str, str] | Sequence[tuple[str, str]] | None = None,
    files: Sequence[FilePart] | None = None,
    *,
    key: str | None = KEY,
    url: str = EDITS_URL,
    method: str = "POST",
    **kwargs: Any,
) -> httpx.Request:
    """An edit request; by default a valid gpt-image-2 one with one 32x32 PNG."""
    data = {"model": "gpt-image-2", "prompt": "Add a red hat"} if fields is None else fields
    parts = [("image", ("boat.png", PNG, "image/png"))] if files is None else list(files)
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.Request(method, url, data=dict(data), files=parts, headers=headers, **kwargs)


def send(req: httpx.Request, emulator: Emulator | None = None) -> httpx.Response:
    response = (emulator or Emulator())(req)
    response.read()
    return response


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def refused(
    fields: dict[str, str] | None = None, files: Sequence[FilePart] | None = None, **kw: Any
) -> tuple[int, dict[str, Any]]:
    response = send(request(fields, files, **kw))
    return response.status_code, error_of(response)


def gpt(**extra: str) -> dict[str, str]:
    return {"model": "gpt-image-2", "prompt": "Add a red hat", **extra}


def qwen(model: str = "qwen-image-edit", **extra: str) -> dict[str, str]:
    return {"model": model, "prompt": "Add a flag", **extra}


def decode_png(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    image.load()
    return image


# -- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    ["gpt-image-2", "gpt-image-1.5", "gpt-image-1", "gpt-image-1-mini", "gpt-image-2-2026-04-21"],
)
def test_every_gpt_model_answers_b64_json(model: str) -> None:
    response = send(request(gpt(model=model, quality="low")))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == [
        "created",
        "background",
        "output_format",
        "quality",
        "size",
        "usage",
        "data",
    ]
    assert (body["background"], body["output_format"], body["quality"]) == ("opaque", "png", "low")
    assert body["size"] == "1024x1024"  # size=auto for a square input
    assert [set(item) for item in body["data"]] == [{"b64_json"}]
    assert decode_png(body["data"][0]["b64_json"]).size == (1024, 1024)


def test_a_respx_side_effect_serves_the_route() -> None:
    emulator = Emulator()
    with respx.mock() as router, httpx.Client() as client:
        route = router.post(EDITS_URL).mock(side_effect=emulator)
        response = client.send(request(gpt(size="1024x640")))
    assert route.call_count == 1
    assert response.status_code == 200
    assert decode_png(response.json()["data"][0]["b64_json"]).size == (1024, 640)
    assert [(r.method, r.path, r.status) for r in emulator.requests] == [
        ("POST", "/v1/images/edits", 200)
    ]


def test_the_offline_client_serves_any_host() -> None:
    with offline_http_client() as client:
        response = client.send(
            request(gpt(size="1024x640"), url="http://gateway.invalid/v1/images/edits")
        )
    assert response.status_code == 200


def test_several_images_go_as_image_brackets() -> None:
    files = [("image[]", (f"{i}.png", make_image(32, 32), "image/png")) for i in range(3)]
    assert send(request(gpt(size="1024x640"), files)).status_code == 200


def test_jpeg_and_webp_inputs_are_accepted() -> None:
    files = [
        ("image[]", ("a.jpg", make_image(32, 32, fmt="JPEG"), "image/jpeg")),
        ("image[]", ("b.webp", make_image(32, 32, fmt="WEBP"), "image/webp")),
    ]
    assert send(request(gpt(size="1024x640"), files)).status_code == 200


def test_a_mask_the_size_of_the_image_is_accepted() -> None:
    files = [
        ("image", ("boat.png", PNG, "image/png")),
        ("mask", ("mask.png", make_mask(32, 32), "image/png")),
    ]
    assert send(request(gpt(size="1024x640"), files)).status_code == 200


def test_compression_with_jpeg_is_accepted() -> None:
    response = send(request(gpt(size="1024x640", output_format="jpeg", output_compression="50")))
    assert response.status_code == 200
    assert response.json()["output_format"] == "jpeg"


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5"])
def test_input_fidelity_high_on_gpt_image_1(model: str) -> None:
    assert send(request(gpt(model=model, input_fidelity="high"))).status_code == 200


def test_gpt_image_2_ignores_input_fidelity() -> None:
    assert send(request(gpt(size="1024x640", input_fidelity="high"))).status_code == 200


def test_user_and_stream_false_are_accepted() -> None:
    fields = gpt(size="1024x640", user="u-1", stream="false", partial_images="0")
    assert send(request(fields)).status_code == 200


# -- the gateway's own checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}, {"Authorization": KEY}],
    ids=["none", "basic", "empty", "no-scheme"],
)
def test_a_missing_or_malformed_key_is_401(headers: dict[str, str]) -> None:
    req = request(key=None)
    req.headers.update(headers)
    response = send(req)
    assert response.status_code == 401
    error = error_of(response)
    assert error["type"] == "comet_api_error"
    assert error["param"] == ""
    assert "(request id: " in error["message"]


def test_a_key_not_in_the_accepted_set_is_401() -> None:
    emulator = Emulator(api_keys={"sk-good"})
    assert send(request(key="sk-bad"), emulator).status_code == 401
    assert send(request(gpt(size="1024x640"), key="sk-good"), emulator).status_code == 200


def test_the_key_is_checked_before_the_body() -> None:
    req = httpx.Request("POST", EDITS_URL, content=b"not multipart")
    assert send(req).status_code == 401


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"model": "gpt-image-2", "prompt": "x"}'),
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=abc", b"garbage without parts"),
        (
            "multipart/form-data; boundary=abc",
            b'--abc\r\nContent-Disposition: form-data; name="a"\r\n\r\nx',
        ),
    ],
    ids=["json", "no-boundary", "no-parts", "unterminated"],
)
def test_an_unreadable_body_is_500_invalid_request(
    content_type: str, body: bytes, load_fixture: Loader
) -> None:
    req = httpx.Request(
        "POST",
        EDITS_URL,
        content=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": content_type},
    )
    response = send(req)
    assert response.status_code == 500
    error = error_of(response)
    expected = load_fixture("error-comet-500-invalid-request.json")["error"]
    assert (error["type"], error["param"], error["code"]) == (
        expected["type"],
        expected["param"],
        expected["code"],
    )
    assert error["message"].startswith("invalid request")
    assert "(request id: " in error["message"]


def test_a_missing_model_is_400_like_cometapi(load_fixture: Loader) -> None:
    status, error = refused({"prompt": "Add a hat"})
    expected = load_fixture("error-comet-model-required.json")["error"]
    assert status == 400
    assert error["message"].split(" (request id: ")[0] == expected["message"].split(" (request")[0]
    assert (error["type"], error["param"], error["code"]) == (
        expected["type"],
        expected["param"],
        expected["code"],
    )


@pytest.mark.parametrize("model", ["gpt-image-3", "GPT-IMAGE-2", "dall-e-2", "qwen-image-edit-2"])
def test_an_unknown_model_is_404(model: str) -> None:
    status, error = refused(gpt(model=model))
    assert status == 404
    assert (error["type"], error["code"]) == ("comet_api_error", "model_not_found")
    assert f"`{model}`" in error["message"]


@pytest.mark.parametrize("prompt", [None, "", "   "])
def test_a_missing_prompt_is_400(prompt: str | None) -> None:
    fields = {"model": "gpt-image-2"} | ({} if prompt is None else {"prompt": prompt})
    status, error = refused(fields)
    assert status == 400
    assert (error["type"], error["code"]) == ("comet_api_error", "invalid_request")
    assert error["message"].startswith("prompt is required")


# -- GPT image models: the upstream's field checks ------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-1", "gpt-image-1-mini"])
def test_response_format_to_a_gpt_model_is_unknown_parameter(
    model: str, load_fixture: Loader
) -> None:
    status, error = refused(gpt(model=model, response_format="b64_json"))
    assert status == 400
    assert error == load_fixture("error-unknown-parameter.json")["error"]


@pytest.mark.parametrize("name", ["moderation", "style", "seed", "negative_prompt", "watermark"])
def test_other_unknown_fields_are_unknown_parameter(name: str) -> None:
    status, error = refused(gpt(**{name: "1"}))
    assert (status, error["code"], error["param"]) == (400, "unknown_parameter", name)


def test_an_octet_stream_image_part_is_refused(load_fixture: Loader) -> None:
    status, error = refused(files=[("image", ("boat.png", PNG, "application/octet-stream"))])
    assert status == 400
    assert error == load_fixture("error-unsupported-mimetype.json")["error"]


@pytest.mark.parametrize("content_type", ["text/plain", "image/gif", "image/jpg", ""])
def test_other_image_content_types_are_refused(content_type: str) -> None:
    status, error = refused(files=[("image", ("boat.png", PNG, content_type))])
    assert (status, error["code"], error["param"]) == (400, "unsupported_file_mimetype", "image")


def test_a_mask_sent_as_octet_stream_is_refused() -> None:
    files = [
        ("image", ("boat.png", PNG, "image/png")),
        ("mask", ("mask.png", make_mask(32, 32), "application/octet-stream")),
    ]
    status, error = refused(files=files)
    assert (status, error["code"], error["param"]) == (400, "unsupported_file_mimetype", "mask")


@pytest.mark.parametrize(
    "data",
    [b"not an image at all", PNG[:40], make_image(8, 8, fmt="GIF")],
    ids=["text", "truncated-png", "gif"],
)
def test_bytes_that_are_not_an_accepted_image_are_refused(data: bytes) -> None:
    status, error = refused(files=[("image", ("boat.png", data, "image/png"))])
    assert (status, error["code"], error["param"]) == (400, "invalid_image_file", "image")
    assert "boat.png" in error["message"]


def fields_only(fields: dict[str, str]) -> httpx.Request:
    """A multipart body with text parts only (httpx would send a urlencoded one)."""
    body = b"".join(
        b'--b0undary\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (name.encode(), value.encode())
        for name, value in fields.items()
    )
    return httpx.Request(
        "POST",
        EDITS_URL,
        content=body + b"--b0undary--\r\n",
        headers={
            "Authorization": f"Bearer {KEY}",
            "Content-Type": "multipart/form-data; boundary=b0undary",
        },
    )


def test_a_urlencoded_body_is_unreadable() -> None:
    req = httpx.Request("POST", EDITS_URL, data=gpt(), headers={"Authorization": f"Bearer {KEY}"})
    response = send(req)
    assert (response.status_code, error_of(response)["code"]) == (500, "invalid_request")


def test_no_image_is_a_missing_parameter() -> None:
    response = send(fields_only(gpt()))
    status, error = response.status_code, error_of(response)
    assert (status, error["code"], error["param"]) == (400, "missing_required_parameter", "image")


def test_an_image_sent_as_text_is_refused() -> None:
    response = send(fields_only(gpt(image="boat.png")))
    status, error = response.status_code, error_of(response)
    assert (status, error["code"], error["param"]) == (400, "invalid_type", "image")


def test_more_than_16_images_is_refused() -> None:
    files = [("image[]", (f"{i}.png", PNG, "image/png")) for i in range(17)]
    status, error = refused(files=files)
    assert (status, error["code"], error["param"]) == (400, "array_above_max_length", "image")


def mask_files(mask: bytes) -> list[FilePart]:
    return [("image", ("boat.png", PNG, "image/png")), ("mask", ("mask.png", mask, "image/png"))]


def test_a_mask_without_alpha_is_refused_as_the_relay_does(load_fixture: Loader) -> None:
    status, error = refused(files=mask_files(make_mask(32, 32, alpha=False)))
    assert status == 400
    assert error == load_fixture("error-mask-alpha.json")["error"]


@pytest.mark.parametrize(
    ("mask", "words"),
    [
        (make_mask(32, 16), "does not match image size 32x32"),
        (make_image(32, 32, fmt="WEBP"), "must be a PNG"),
    ],
    ids=["other-size", "not-png"],
)
def test_a_mask_that_does_not_fit_is_refused(mask: bytes, words: str) -> None:
    status, error = refused(files=mask_files(mask))
    assert (status, error["code"], error["param"]) == (400, "invalid_mask_image_format", None)
    assert words in error["message"]


def test_a_mask_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator_rules, "GPT_MAX_MASK_BYTES", 100)
    status, error = refused(files=mask_files(make_mask(32, 32)))
    assert (status, error["code"], error["param"]) == (400, "file_too_large", "mask")


@pytest.mark.parametrize(
    ("n", "code"),
    [("0", "integer_below_min_value"), ("11", "integer_above_max_value"), ("two", "invalid_type")],
)
def test_n_out_of_range_for_gpt(n: str, code: str) -> None:
    status, error = refused(gpt(n=n))
    assert (status, error["code"], error["param"]) == (400, code, "n")


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini"])
@pytest.mark.parametrize("size", ["2048x1152", "1024x640", "512x512", "1792x1024"])
def test_only_gpt_image_2_takes_free_sizes(model: str, size: str) -> None:
    status, error = refused(gpt(model=model, size=size))
    assert (status, error["code"], error["param"]) == (400, "invalid_value", "size")
    assert "'1024x1024', '1536x1024', '1024x1536', and 'auto'" in error["message"]


@pytest.mark.parametrize(
    ("size", "why"),
    [
        ("1000x1000", "multiples of 16"),
        ("4096x2160", "long side must be at most 3840"),
        ("3072x1008", "at most 3 times"),
        ("3840x2400", "more than 8294400"),
        ("512x512", "fewer than 655360"),
        ("1024 x 1024", "Supported values"),
        ("big", "Supported values"),
    ],
)
def test_gpt_image_2_refuses_sizes_outside_its_rule(size: str, why: str) -> None:
    status, error = refused(gpt(size=size))
    assert (status, error["code"], error["param"]) == (400, "invalid_value", "size")
    assert why in error["message"]
    assert repr(size).replace('"', "'") in error["message"]


@pytest.mark.parametrize(
    "size",
    [
        "1024x1024",
        "1536x1024",
        "1024x1536",
        "auto",
        "2048x1152",
        "3840x2160",
        "2160x3840",
        "2880x2880",
        "1024x640",
        "1536x512",
    ],
)
def test_gpt_image_2_accepts_sizes_inside_its_rule(size: str) -> None:
    """Checked without rendering (a 4K render is slow); the HTTP path is covered above."""
    req = request(gpt(size=size))
    req.read()
    form = parse_form(req.headers["content-type"], req.content)
    plan = emulator_rules.check_edit(form)
    assert isinstance(plan, emulator_rules.EditPlan), plan
    if size != "auto":
        assert plan.size_label == size


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"quality": "ultra"}, "quality"),
        ({"quality": "standard"}, "quality"),
        ({"output_format": "jpg"}, "output_format"),
        ({"output_format": "gif"}, "output_format"),
        ({"background": "none"}, "background"),
        ({"input_fidelity": "medium"}, "input_fidelity"),
        ({"stream": "maybe"}, "stream"),
    ],
)
def test_values_outside_the_enumerations_are_invalid_value(
    fields: dict[str, str], param: str
) -> None:
    status, error = refused(gpt(**fields))
    assert (status, error["code"], error["param"]) == (400, "invalid_value", param)
    assert f"Invalid value: '{fields[param]}'" in error["message"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"output_compression": "50"}, "invalid_value"),  # png
        ({"output_compression": "50", "output_format": "png"}, "invalid_value"),
        ({"output_compression": "101", "output_format": "jpeg"}, "integer_above_max_value"),
        ({"output_compression": "-1", "output_format": "webp"}, "integer_below_min_value"),
        ({"output_compression": "high", "output_format": "jpeg"}, "invalid_type"),
    ],
)
def test_output_compression_needs_jpeg_or_webp_and_0_to_100(
    fields: dict[str, str], code: str
) -> None:
    status, error = refused(gpt(**fields))
    assert (status, error["code"], error["param"]) == (400, code, "output_compression")


def test_a_transparent_background_needs_png_or_webp() -> None:
    status, error = refused(
        gpt(model="gpt-image-1", background="transparent", output_format="jpeg")
    )
    assert (status, error["code"], error["param"]) == (400, "invalid_value", "background")
    assert "png or webp" in error["message"]


def test_gpt_image_2_refuses_a_transparent_background() -> None:
    status, error = refused(gpt(background="transparent"))
    assert (status, error["code"], error["param"]) == (400, "invalid_value", "background")


def test_gpt_image_1_mini_refuses_high_input_fidelity() -> None:
    status, error = refused(gpt(model="gpt-image-1-mini", input_fidelity="high"))
    assert (status, error["code"], error["param"]) == (400, "invalid_value", "input_fidelity")


def test_streaming_is_refused_by_the_emulator_itself() -> None:
    status, error = refused(gpt(stream="true"))
    assert (status, error["code"], error["param"]) == (400, "emulator_unsupported", "stream")
    assert "emulator" in error["message"]


def test_partial_images_must_be_0_to_3() -> None:
    status, error = refused(gpt(partial_images="4"))
    assert (status, error["code"], error["param"]) == (
        400,
        "integer_above_max_value",
        "partial_images",
    )


def test_a_prompt_over_32000_characters_is_refused() -> None:
    status, error = refused(gpt(prompt="x" * 32001))
    assert (status, error["code"], error["param"]) == (400, "string_above_max_length", "prompt")


# -- qwen-image-edit behind the gateway ----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "n", "ok"),
    [
        ("qwen-image-edit", "1", True),
        ("qwen-image-edit", "2", False),
        ("qwen-image-edit-plus", "6", True),
        ("qwen-image-edit-plus", "7", False),
        ("qwen-image-edit-max", "6", True),
        ("qwen-image-edit-max", "0", False),
    ],
)
def test_qwen_n(model: str, n: str, ok: bool) -> None:
    response = send(request(qwen(model, n=n)))
    if ok:
        assert response.status_code == 200
        assert len(response.json()["data"]) == int(n)
    else:
        assert response.status_code == 400
        assert error_of(response)["param"] == "n"


def test_qwen_answers_urls_on_the_requests_own_host(load_fixture: Loader) -> None:
    response = send(request(qwen(), url="http://example.test:8123/v1/images/edits"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(load_fixture("qwen-image-edit-ok.json"))
    assert body["usage"] == {}
    (item,) = body["data"]
    assert set(item) == {"url"}
    assert item["url"].startswith("http://example.test:8123/v1/emulator/files/")
    assert body["metadata"]["output"]["choices"][0]["message"]["content"] == [
        {"image": item["url"]}
    ]


def test_qwen_adds_b64_json_when_asked() -> None:
    body = send(request(qwen(response_format="b64_json"))).json()
    (item,) = body["data"]
    assert set(item) == {"url", "b64_json"}
    assert decode_png(item["b64_json"]).size == (32, 32)


@pytest.mark.parametrize("model", ["qwen-image-edit", "qwen-image-edit-plus-2025-10-30"])
def test_qwen_ignores_mask_size_seed_and_negative_prompt(model: str) -> None:
    fields = qwen(model, size="1024x1024", seed="42", negative_prompt="blur")
    files = [
        ("image", ("boat.png", make_image(40, 24), "image/png")),
        ("mask", ("mask.png", make_mask(8, 8, alpha=False), "image/png")),
    ]
    response = send(request(fields, files))
    assert response.status_code == 200
    assert response.json()["metadata"]["usage"] == {"width": 40, "height": 24, "image_count": 1}


def test_qwen_takes_up_to_three_images() -> None:
    files = [("image[]", (f"{i}.png", PNG, "image/png")) for i in range(4)]
    assert send(request(qwen(), files[:3])).status_code == 200
    status, error = refused(qwen(), files)
    assert (status, error["code"], error["param"]) == (400, "array_above_max_length", "image")


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"response_format": "png"}, "response_format"), ({"watermark": "yes"}, "watermark")],
)
def test_qwen_refuses_bad_values(fields: dict[str, str], param: str) -> None:
    status, error = refused(qwen(**fields))
    assert (status, error["code"], error["param"]) == (400, "invalid_value", param)


def test_qwen_refuses_octet_stream_parts_too() -> None:
    status, error = refused(qwen(), [("image", ("a.png", PNG, "application/octet-stream"))])
    assert (status, error["code"]) == (400, "unsupported_file_mimetype")


# -- other paths -----------------------------------------------------------------------------------


def test_a_wrong_path_under_v1_is_a_json_404() -> None:
    response = send(request(url="https://api.cometapi.com/v1/images/edit"))
    assert response.status_code == 404
    assert error_of(response)["message"].startswith("Invalid URL (POST /v1/images/edit)")
    get = send(httpx.Request("GET", EDITS_URL))
    assert get.status_code == 404


def test_a_path_outside_v1_is_the_web_sites_html() -> None:
    response = send(request(url="https://api.cometapi.com/images/edits"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_an_unknown_file_is_404() -> None:
    response = send(
        httpx.Request("GET", "https://api.cometapi.com/v1/emulator/files/" + "0" * 32 + ".png")
    )
    assert response.status_code == 404

"""What crosses fal's wire, byte for byte: the JSON body, the headers, fal's answers and errors.

HTTP is mocked with respx; nothing here reaches fal.ai.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import imgedit_fal.plugin
import pytest
import respx
from imgedit_fal import FalProvider

from imgedit_core import (
    APIError,
    AuthenticationError,
    CapabilityError,
    Client,
    EditRequest,
    ImageInput,
    InvalidResponseError,
    RateLimitError,
    Registry,
    ServerError,
    UnprocessableEntityError,
    load_plugins,
)
from imgedit_core.testing import make_image

KEY = "fal-test-key-0123456789abcdef"
EDIT_URL = "https://fal.run/fal-ai/qwen-image-edit"
PLUS_URL = "https://fal.run/fal-ai/qwen-image-edit-plus"
RESULT_URL = "https://v3.fal.media/files/penguin/result.jpeg"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def answer(url: str = RESULT_URL, **fields: Any) -> dict[str, Any]:
    """fal's answer for one image, as the endpoint's schema describes it."""
    image = {
        "url": url,
        "content_type": "image/jpeg",
        "file_name": "result.jpeg",
        "file_size": 1234,
        "width": 1024,
        "height": 768,
    }
    body: dict[str, Any] = {
        "images": [image],
        "timings": {"inference": 3.1},
        "seed": 99,
        "has_nsfw_concepts": [False],
        "prompt": "Add a red hat",
    }
    body.update(fields)
    return body


def fal_client(**environ: str) -> Client:
    """A Client that knows only this plugin, reads FAL_KEY from ``environ`` and never retries."""
    return Client(
        extra_plugins=[imgedit_fal.plugin],
        entry_points=False,
        environ={"FAL_KEY": KEY, **environ},
        max_retries=0,
    )


def sent_body(route: respx.Route) -> dict[str, Any]:
    body = json.loads(route.calls.last.request.content)
    assert isinstance(body, dict)
    return body


def parse(response: httpx.Response, model: str = "qwen-image-edit") -> Any:
    request = EditRequest(images=(ImageInput.from_bytes(make_image()),), prompt="x", model=model)
    response.request = httpx.Request("POST", EDIT_URL)
    return FalProvider().parse_response(response, request)


def error(response: httpx.Response) -> APIError:
    response.request = httpx.Request("POST", EDIT_URL)
    return FalProvider().parse_error(response)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's fal key, base URL, imgedit config or plugin filter."""
    for name in ("FAL_KEY", "FAL_BASE_URL", "IMGEDIT_CONFIG", "IMGEDIT_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


# -- the request ------------------------------------------------------------------------------


def test_a_minimal_edit_sends_exactly_prompt_and_image(router: respx.MockRouter) -> None:
    png = make_image()
    route = router.post(EDIT_URL).respond(200, json=answer())

    with fal_client() as client:
        client.edit(png, "Add a red hat", model="qwen-image-edit", provider="fal")

    sent = route.calls.last.request
    assert str(sent.url) == EDIT_URL
    assert sent.headers["authorization"] == f"Key {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["user-agent"].startswith("imgedit-fal/")
    assert KEY not in str(sent.url)
    assert sent_body(route) == {
        "prompt": "Add a red hat",
        "image_url": f"data:image/png;base64,{b64(png)}",
    }


def test_every_option_goes_by_fals_name(router: respx.MockRouter) -> None:
    jpeg = make_image(fmt="JPEG")
    out = make_image(color="green")
    synced = answer(f"data:image/png;base64,{b64(out)}")
    route = router.post(EDIT_URL).respond(200, json=synced)
    extra = {
        "seed": 7,
        "negative_prompt": "blurry",
        "guidance_scale": 2.5,
        "num_inference_steps": 40,
        "enable_safety_checker": False,
        "acceleration": "high",
    }

    with fal_client() as client:
        result = client.edit(
            jpeg,
            "Make it dusk",
            model="qwen-image-edit",
            provider="fal",
            n=2,
            size="landscape_4_3",
            output_format="jpeg",
            response_format="b64_json",
            extra=extra,
        )

    body = sent_body(route)
    assert body == {
        "prompt": "Make it dusk",
        "image_url": f"data:image/jpeg;base64,{b64(jpeg)}",
        "num_images": 2,
        "image_size": "landscape_4_3",
        "output_format": "jpeg",
        "sync_mode": True,
        **extra,
    }
    assert list(body)[:2] == ["prompt", "image_url"]
    assert result.images[0].data == out


def test_url_answers_are_asked_for_with_sync_mode_false(router: respx.MockRouter) -> None:
    route = router.post(EDIT_URL).respond(200, json=answer())

    with fal_client() as client:
        client.edit(make_image(), "x", model="qwen-image-edit", response_format="url")

    assert sent_body(route)["sync_mode"] is False


def test_plus_takes_its_images_as_a_list_in_order(router: respx.MockRouter) -> None:
    png, jpeg = make_image(color="red"), make_image(fmt="JPEG", color="blue")
    route = router.post(PLUS_URL).respond(200, json=answer())

    with fal_client() as client:
        client.edit([png, jpeg], "Put both in one room", model="qwen-image-edit-plus")

    body = sent_body(route)
    assert body["image_urls"] == [
        f"data:image/png;base64,{b64(png)}",
        f"data:image/jpeg;base64,{b64(jpeg)}",
    ]
    assert "image_url" not in body


def test_a_path_is_read_into_the_data_uri_when_built(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    path = tmp_path / "photo.webp"
    path.write_bytes(make_image(fmt="WEBP"))
    route = router.post(EDIT_URL).respond(200, json=answer())

    with fal_client() as client:
        client.edit(path, "x", model="qwen-image-edit")

    uri = sent_body(route)["image_url"]
    assert uri.startswith("data:image/webp;base64,")
    assert base64.b64decode(uri.partition(",")[2]) == path.read_bytes()


def test_fal_base_url_moves_every_endpoint(router: respx.MockRouter) -> None:
    route = router.post("https://proxy.example.com/fal/fal-ai/qwen-image-edit").respond(
        200, json=answer()
    )

    with fal_client(FAL_BASE_URL="https://proxy.example.com/fal/") as client:
        client.edit(make_image(), "x", model="qwen-image-edit")

    assert route.call_count == 1


def test_wrong_option_types_are_refused_before_sending(router: respx.MockRouter) -> None:
    route = router.post(EDIT_URL).respond(200, json=answer())

    with fal_client() as client:
        for name, value in [("seed", "abc"), ("enable_safety_checker", "no"), ("seed", True)]:
            with pytest.raises(CapabilityError) as caught:
                client.edit(make_image(), "x", model="qwen-image-edit", extra={name: value})
            assert caught.value.field == name
            assert repr(value) in str(caught.value)

    assert route.call_count == 0


def test_options_a_model_does_not_declare_are_refused(router: respx.MockRouter) -> None:
    route = router.post(url__startswith="https://fal.run/").respond(200, json=answer())

    with fal_client() as client:
        with pytest.raises(CapabilityError, match="strength"):
            client.edit(make_image(), "x", model="qwen-image-edit", extra={"strength": 0.5})
        with pytest.raises(CapabilityError, match="acceleration"):
            client.edit(
                make_image(), "x", model="qwen-image-edit-plus", extra={"acceleration": "high"}
            )
        with pytest.raises(CapabilityError, match="1024x1024"):
            client.edit(make_image(), "x", model="qwen-image-edit", size="1024x1024")

    assert route.call_count == 0


# -- the answer -------------------------------------------------------------------------------


def test_a_url_answer_keeps_seed_and_safety_flags() -> None:
    result = parse(httpx.Response(200, json=answer()))

    image = result.images[0]
    assert image.url == RESULT_URL
    assert image.media_type == "image/jpeg"  # declared; the bytes decide once downloaded
    assert result.provider == "fal"
    assert result.size == "1024x768"
    assert result.output_format == "jpeg"
    assert result.usage is None
    assert result.metadata == {
        "timings": {"inference": 3.1},
        "seed": 99,
        "has_nsfw_concepts": [False],
        "prompt": "Add a red hat",
    }


def test_a_sync_mode_answer_decodes_its_data_uri() -> None:
    out = make_image(fmt="JPEG", color="purple")

    result = parse(httpx.Response(200, json=answer(f"data:image/jpeg;base64,{b64(out)}")))

    assert result.images[0].url is None
    assert result.images[0].data == out
    assert result.images[0].media_type == "image/jpeg"


def test_url_answers_download_through_the_client(router: respx.MockRouter) -> None:
    out = make_image(fmt="JPEG", color="orange")
    router.post(EDIT_URL).respond(200, json=answer())
    download = router.get(RESULT_URL).respond(200, content=out)

    with fal_client() as client:
        result = client.edit(make_image(), "x", model="qwen-image-edit")
        assert result.images[0].data == out

    assert download.call_count == 1
    assert "authorization" not in download.calls.last.request.headers  # the key stays with fal


def test_a_queue_ticket_says_the_base_url_is_wrong() -> None:
    ticket = {
        "status": "IN_QUEUE",
        "request_id": "764cabcf-b745-4b3e-ae38-1200304cf45b",
        "response_url": "https://queue.fal.run/fal-ai/qwen-image-edit/requests/764cabcf",
    }

    with pytest.raises(InvalidResponseError) as caught:
        parse(httpx.Response(200, json=ticket))

    assert "queue" in str(caught.value)
    assert "FAL_BASE_URL" in str(caught.value)
    assert "https://fal.run" in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        {"images": []},
        {"images": [{"content_type": "image/png"}]},
        {"images": ["https://v3.fal.media/a.png"]},
        {"images": [{"url": "ftp://files.example/a.png"}]},
        {"detail": "not an answer"},
    ],
)
def test_answers_without_a_usable_image_are_invalid(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidResponseError):
        parse(httpx.Response(200, json=body))


# -- fal's errors -----------------------------------------------------------------------------


def test_validation_errors_name_the_field_the_value_and_the_fix() -> None:
    detail = [
        {
            "loc": ["body", "num_inference_steps"],
            "msg": "Input should be less than or equal to 50",
            "type": "less_than_equal",
            "url": "https://docs.fal.ai/errors#less_than_equal",
            "ctx": {"le": 50},
            "input": 80,
        },
        {
            "loc": ["body", "image_url"],
            "msg": "Image too large.",
            "type": "image_too_large",
            "input": "data:image/png;base64," + "A" * 500,
        },
    ]

    err = error(httpx.Response(422, json={"detail": detail}))

    assert isinstance(err, UnprocessableEntityError)
    assert (err.status, err.code, err.param) == (422, "less_than_equal", "num_inference_steps")
    text = str(err)
    assert "Input should be less than or equal to 50 (got 80)" in text
    assert "see https://docs.fal.ai/errors#less_than_equal" in text
    assert "image_url: Image too large" in text
    assert "AAAA" not in text  # an image's data URI is never echoed


def test_a_content_policy_refusal_is_unprocessable() -> None:
    detail = [
        {
            "loc": ["body", "prompt"],
            "msg": "The content was flagged by a content checker.",
            "type": "content_policy_violation",
            "input": "the flagged prompt",
            "categories": ["violence"],
        }
    ]

    err = error(httpx.Response(422, json={"detail": detail}, headers={"X-Fal-Retryable": "false"}))

    assert isinstance(err, UnprocessableEntityError)
    assert (err.code, err.param) == ("content_policy_violation", "prompt")
    assert "flagged by a content checker (got 'the flagged prompt')" in str(err)


def test_a_bad_key_is_an_authentication_error() -> None:
    err = error(httpx.Response(401, json={"detail": "Unauthorized"}))

    assert isinstance(err, AuthenticationError)
    assert err.message == "Unauthorized"
    assert "Check the API key" in str(err)


def test_platform_failures_keep_their_error_type() -> None:
    flat = httpx.Response(
        504,
        json={"detail": "Request timed out", "error_type": "request_timeout"},
        headers={"X-Fal-Error-Type": "request_timeout"},
    )
    html = httpx.Response(
        503,
        content=b"<html>no runner</html>",
        headers={"content-type": "text/html", "X-Fal-Error-Type": "runner_scheduling_failure"},
    )

    timed_out, unavailable = error(flat), error(html)

    assert isinstance(timed_out, ServerError)
    assert (timed_out.code, timed_out.error_type) == ("request_timeout", "request_timeout")
    assert timed_out.message == "Request timed out"
    assert isinstance(unavailable, ServerError)
    assert unavailable.code == "runner_scheduling_failure"
    assert "text/html" in unavailable.message


def test_errors_through_the_client_hide_an_echoed_key(router: respx.MockRouter) -> None:
    route = router.post(EDIT_URL)

    with fal_client() as client:
        route.respond(401, json={"detail": f"Invalid key: {KEY}"})
        with pytest.raises(AuthenticationError) as bad_key:
            client.edit(make_image(), "x", model="qwen-image-edit")
        route.respond(429, json={"detail": "Too many requests"}, headers={"Retry-After": "3"})
        with pytest.raises(RateLimitError) as limited:
            client.edit(make_image(), "x", model="qwen-image-edit")

    assert KEY not in str(bad_key.value)
    assert KEY not in repr(bad_key.value)
    assert limited.value.retry_after == 3


# -- the plugin, installed --------------------------------------------------------------------


def test_the_entry_point_adds_a_second_provider_of_qwen_image_edit() -> None:
    loaded = load_plugins(environ={"IMGEDIT_LOAD_PLUGINS": "fal,cometapi-qwen-image-edit"})

    assert loaded.failures == []
    registry = Registry(loaded.providers)
    owners = sorted(p.name for p, spec in registry.entries() if spec.name == "qwen-image-edit")
    assert owners == ["cometapi-qwen-image-edit", "fal"]
    assert registry.resolve("qwen-image-edit", "fal").provider.name == "fal"


@pytest.mark.parametrize(("header", "expected"), [("true", True), ("false", False), (None, None)])
def test_fal_retryable_header_reaches_the_retry_policy(
    header: str | None, expected: bool | None
) -> None:
    from imgedit_core.retry import RetryPolicy

    headers = {"x-fal-retryable": header} if header is not None else {}
    error = FalProvider().parse_error(
        httpx.Response(503, json={"detail": "Service busy"}, headers=headers)
    )
    assert error.retryable is expected
    # fal's word wins over the status: a 503 marked not retryable is given up at once.
    assert RetryPolicy().retryable(error) is (True if expected is None else expected)

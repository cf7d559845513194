"""Failures through Client.edit: each error answer becomes the typed error a person can act on."""

from __future__ import annotations

import base64
import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx
from conftest import BASE_URL, EDITS_URL, TEST_KEY

from imgedit_core import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    UnprocessableEntityError,
)
from imgedit_core.testing import make_image

Loader = Callable[[str], Any]


def ok_body() -> dict[str, Any]:
    return {"created": 1, "data": [{"b64_json": base64.b64encode(make_image()).decode()}]}


def edit_error(
    response: httpx.Response | Exception, *, model: str = "gpt-image-2", **kwargs: Any
) -> APIError:
    """One edit, no retries, against a mocked route answering ``response``; return the error."""
    with respx.mock() as router, Client(api_key=TEST_KEY, max_retries=0) as client:
        route = router.post(EDITS_URL)
        if isinstance(response, Exception):
            route.mock(side_effect=response)
        else:
            route.mock(return_value=response)
        with pytest.raises(APIError) as caught:
            client.edit(make_image(), "Add a hat", model=model, **kwargs)
    assert route.call_count == 1
    assert TEST_KEY not in str(caught.value)
    assert TEST_KEY not in repr(caught.value)
    return caught.value


# -- the recorded error bodies ---------------------------------------------------------------


def test_unknown_parameter_is_bad_request(load_fixture: Loader) -> None:
    err = edit_error(httpx.Response(400, json=load_fixture("error-unknown-parameter.json")))
    assert type(err) is BadRequestError
    assert err.status == 400
    assert err.code == "unknown_parameter"
    assert err.param == "response_format"
    assert err.error_type == "invalid_request_error"
    assert err.provider == "cometapi-gpt-image"
    assert err.message == "Unknown parameter: 'response_format'"
    message = str(err)
    assert "Unknown parameter: 'response_format'" in message
    assert "HTTP 400" in message
    assert "code=unknown_parameter" in message
    assert "param=response_format" in message


def test_unsupported_mimetype_is_bad_request(load_fixture: Loader) -> None:
    err = edit_error(httpx.Response(400, json=load_fixture("error-unsupported-mimetype.json")))
    assert type(err) is BadRequestError
    assert err.code == "unsupported_file_mimetype"
    assert err.param == "image"
    assert "unsupported mimetype ('application/octet-stream')" in str(err)


def test_mask_alpha_error_is_bad_request(load_fixture: Loader) -> None:
    err = edit_error(httpx.Response(400, json=load_fixture("error-mask-alpha.json")))
    assert type(err) is BadRequestError
    assert err.code == "invalid_mask_image_format"
    assert err.param is None
    assert "mask image missing alpha channel" in str(err)
    assert "param=" not in str(err)


def test_rate_limit_with_retry_after(load_fixture: Loader) -> None:
    body = load_fixture("error-rate-limit.json")
    err = edit_error(httpx.Response(429, json=body, headers={"retry-after": "7"}))
    assert type(err) is RateLimitError
    assert err.status == 429
    assert err.code == "rate_limit_exceeded"
    assert err.retry_after == 7.0
    assert "Rate limit reached for requests" in str(err)
    assert "7 s suggested" in str(err)
    assert err.exit_code == 5


def test_rate_limit_retry_after_ms_wins(load_fixture: Loader) -> None:
    body = load_fixture("error-rate-limit.json")
    headers = {"retry-after-ms": "1500", "retry-after": "30"}
    err = edit_error(httpx.Response(429, json=body, headers=headers))
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 1.5


def test_rate_limit_retry_after_http_date(load_fixture: Loader) -> None:
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    body = load_fixture("error-rate-limit.json")
    err = edit_error(httpx.Response(429, json=body, headers={"retry-after": when}))
    assert err.retry_after is not None
    assert 50 <= err.retry_after <= 61


def test_rate_limit_without_header(load_fixture: Loader) -> None:
    err = edit_error(httpx.Response(429, json=load_fixture("error-rate-limit.json")))
    assert isinstance(err, RateLimitError)
    assert err.retry_after is None
    assert "suggested" not in str(err)


def test_comet_request_id_is_parsed_and_stripped(load_fixture: Loader) -> None:
    body = load_fixture("error-comet-model-required.json")
    err = edit_error(httpx.Response(400, json=body))
    assert type(err) is BadRequestError
    assert err.request_id == "20261125120000123456789abcdef"
    assert err.message == "model name is required"
    assert "request id" not in str(err)
    assert err.error_type == "comet_api_error"
    assert err.code == "invalid_request"
    assert err.param is None  # "" on the wire


def test_comet_500_invalid_request(load_fixture: Loader) -> None:
    body = load_fixture("error-comet-500-invalid-request.json")
    err = edit_error(httpx.Response(500, json=body))
    # CometAPI's malformed request: no retry can fix it, whatever the status says.
    assert type(err) is BadRequestError
    assert err.status == 500
    assert err.code == "invalid_request"
    assert err.request_id == "20261125120000abcdef"
    assert err.message == "invalid request"
    assert "request id" not in str(err)


def test_comet_500_invalid_request_is_not_called_retryable(load_fixture: Loader) -> None:
    body = load_fixture("error-comet-500-invalid-request.json")
    err = edit_error(httpx.Response(500, json=body))
    assert "try again" not in str(err)


def test_request_id_header_wins_over_message_suffix(load_fixture: Loader) -> None:
    body = load_fixture("error-comet-model-required.json")
    response = httpx.Response(400, json=body, headers={"x-request-id": "req_header"})
    err = edit_error(response)
    assert err.request_id == "req_header"
    assert err.message == "model name is required"


def test_empty_code_is_none() -> None:
    body = {"error": {"message": "bad (request id: abc123)", "type": "comet_api_error",
                      "param": "", "code": ""}}  # fmt: skip
    err = edit_error(httpx.Response(400, json=body))
    assert err.code is None
    assert err.param is None
    assert err.request_id == "abc123"
    assert "code=" not in str(err)


# -- one class per status --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "hint"),
    [
        (400, BadRequestError, "check the field"),
        (401, AuthenticationError, "Check the API key"),
        (403, PermissionDeniedError, "not allowed"),
        (404, NotFoundError, "base URL"),
        (408, RequestTimeoutError, "try again"),
        (409, ConflictError, ""),
        (422, UnprocessableEntityError, ""),
        (429, RateLimitError, "Rate limited"),
        (500, ServerError, "try again later"),
        (502, ServerError, "try again later"),
        (503, ServerError, "try again later"),
        (504, ServerError, "try again later"),
        (524, ServerError, "try again later"),
    ],
)
def test_status_maps_to_class(status: int, cls: type[APIError], hint: str) -> None:
    body = {"error": {"message": f"failure {status}", "type": "x", "param": None, "code": "c"}}
    err = edit_error(httpx.Response(status, json=body))
    assert type(err) is cls
    assert err.status == status
    assert f"failure {status}" in str(err)
    assert f"HTTP {status}" in str(err)
    assert hint in str(err)


def test_auth_errors_exit_with_code_3() -> None:
    body = {"error": {"message": "Invalid token", "type": "x", "param": None, "code": None}}
    assert edit_error(httpx.Response(401, json=body)).exit_code == 3
    assert edit_error(httpx.Response(403, json=body)).exit_code == 3


def test_string_error_envelope() -> None:
    err = edit_error(httpx.Response(403, json={"error": "model not allowed for this key"}))
    assert type(err) is PermissionDeniedError
    assert "model not allowed for this key" in str(err)


def test_html_body_with_502() -> None:
    html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    response = httpx.Response(502, text=html, headers={"content-type": "text/html"})
    err = edit_error(response)
    assert type(err) is ServerError
    assert err.status == 502
    assert "text/html" in str(err)
    assert "502 Bad Gateway" in str(err)


def test_empty_body_with_503() -> None:
    err = edit_error(httpx.Response(503))
    assert type(err) is ServerError
    assert "empty body" in str(err)


def test_error_envelope_with_200_is_an_error() -> None:
    body = {"error": {"message": "quota exhausted", "type": "x", "param": None, "code": "q"}}
    err = edit_error(httpx.Response(200, json=body))
    assert "quota exhausted" in str(err)
    assert err.code == "q"


# -- wrong places and no answers ---------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_invalid_response(status: int) -> None:
    response = httpx.Response(status, headers={"location": "https://www.cometapi.com/"})
    err = edit_error(response)
    assert isinstance(err, InvalidResponseError)
    assert err.status == status
    assert "base URL" in str(err)
    assert "https://www.cometapi.com/" in str(err)


def test_redirect_is_not_followed() -> None:
    with respx.mock(assert_all_called=False) as router, Client(api_key=TEST_KEY) as client:
        router.post(EDITS_URL).respond(301, headers={"location": f"{BASE_URL}/elsewhere"})
        elsewhere = router.route(url=f"{BASE_URL}/elsewhere").respond(200, json=ok_body())
        with pytest.raises(InvalidResponseError):
            client.edit(make_image(), "Add a hat")
    assert not elsewhere.called


def test_connect_error() -> None:
    err = edit_error(httpx.ConnectError("Name or service not known"))
    assert type(err) is APIConnectionError
    assert "api.cometapi.com" in str(err)
    assert "ConnectError" in str(err)
    assert "Check the network" in str(err)
    assert err.exit_code == 5


def test_read_timeout() -> None:
    err = edit_error(httpx.ReadTimeout("timed out"))
    assert type(err) is APITimeoutError
    assert isinstance(err, APIConnectionError)
    assert "waiting for the answer" in str(err)
    assert "raise the timeout" in str(err)


def test_connect_timeout() -> None:
    err = edit_error(httpx.ConnectTimeout("timed out"))
    assert type(err) is APITimeoutError
    assert "connecting" in str(err)


def test_write_error_is_a_connection_error() -> None:
    err = edit_error(httpx.RemoteProtocolError("Server disconnected without sending a response."))
    assert type(err) is APIConnectionError
    assert "RemoteProtocolError" in str(err)


# -- the API key ---------------------------------------------------------------------------------


def test_key_absent_from_every_error_kind(load_fixture: Loader) -> None:
    # edit_error asserts the key is in neither str() nor repr(); check the key was really sent.
    with respx.mock() as router, Client(api_key=TEST_KEY) as client:
        route = router.post(EDITS_URL).respond(401, json={"error": {"message": "bad key"}})
        with pytest.raises(AuthenticationError) as caught:
            client.edit(make_image(), "Add a hat")
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert TEST_KEY not in str(caught.value)
    assert TEST_KEY not in repr(caught.value)
    assert TEST_KEY not in repr(vars(caught.value))


def test_key_echoed_by_server_is_redacted() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {TEST_KEY}", "code": "bad_key"}}
    with respx.mock() as router, Client(api_key=TEST_KEY) as client:
        router.post(EDITS_URL).respond(401, json=body)
        with pytest.raises(AuthenticationError) as caught:
            client.edit(make_image(), "Add a hat")
    assert TEST_KEY not in str(caught.value)
    assert TEST_KEY not in repr(caught.value)
    assert TEST_KEY not in caught.value.message
    assert "Incorrect API key provided" in str(caught.value)


def test_key_echoed_in_a_200_error_envelope_is_redacted() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {TEST_KEY}", "code": "bad_key"}}
    with respx.mock() as router, Client(api_key=TEST_KEY) as client:
        router.post(EDITS_URL).respond(200, json=body)
        with pytest.raises(APIError) as caught:
            client.edit(make_image(), "Add a hat")
    assert "Incorrect API key provided" in str(caught.value)
    assert TEST_KEY not in str(caught.value)


# -- settings ------------------------------------------------------------------------------------


def test_missing_key_is_a_config_error_and_sends_nothing() -> None:
    with respx.mock(assert_all_called=False) as router, Client() as client:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        with pytest.raises(ConfigError) as caught:
            client.edit(make_image(), "Add a hat")
    assert not route.called
    message = str(caught.value)
    assert "COMETAPI_KEY" in message
    assert "export COMETAPI_KEY=" in message
    assert caught.value.exit_code == 2


def test_empty_key_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMETAPI_KEY", "")
    with pytest.raises(ConfigError, match="COMETAPI_KEY"):
        Client().prepare(make_image(), "Add a hat")


def test_key_from_environment_is_sent(api_key: str) -> None:
    with respx.mock() as router, Client() as client:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        client.edit(make_image(), "Add a hat")
    assert route.calls.last.request.headers["authorization"] == f"Bearer {api_key}"


def test_explicit_key_beats_environment(api_key: str) -> None:
    with respx.mock() as router, Client(api_key="sk-explicit") as client:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        client.edit(make_image(), "Add a hat")
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-explicit"


@pytest.mark.parametrize("base", ["https://proxy.example/v1", "https://proxy.example/v1/"])
def test_base_url_from_environment(
    monkeypatch: pytest.MonkeyPatch, api_key: str, base: str
) -> None:
    monkeypatch.setenv("COMETAPI_BASE_URL", base)
    with respx.mock(assert_all_called=False) as router, Client() as client:
        default = router.post(EDITS_URL).respond(200, json=ok_body())
        moved = router.post("https://proxy.example/v1/images/edits").respond(200, json=ok_body())
        client.edit(make_image(), "Add a hat")
        client.edit(
            make_image(), "Add a hat", model="qwen-image-edit-plus", response_format="b64_json"
        )
    assert moved.call_count == 2
    assert not default.called


def test_explicit_base_url_beats_environment(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    monkeypatch.setenv("COMETAPI_BASE_URL", "https://proxy.example/v1")
    with respx.mock() as router, Client(base_url="http://127.0.0.1:9/v1") as client:
        route = router.post("http://127.0.0.1:9/v1/images/edits").respond(200, json=ok_body())
        client.edit(make_image(), "Add a hat")
    assert route.called


def test_base_url_must_be_http(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    monkeypatch.setenv("COMETAPI_BASE_URL", "api.cometapi.com/v1")
    with pytest.raises(ConfigError) as caught:
        Client().prepare(make_image(), "Add a hat")
    assert "COMETAPI_BASE_URL" in str(caught.value)
    assert "api.cometapi.com/v1" in str(caught.value)


# -- timeouts ------------------------------------------------------------------------------------


def test_request_carries_the_default_timeout(api_key: str) -> None:
    with respx.mock() as router, Client() as client:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        client.edit(make_image(), "Add a hat")
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout["read"] == 600.0
    assert timeout["write"] >= 60.0
    assert 0 < timeout["connect"] <= 30.0


def test_client_timeout_is_applied(api_key: str) -> None:
    with respx.mock() as router, Client(timeout=90) as client:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        client.edit(make_image(), "Add a hat")
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout["read"] == 90.0
    assert timeout["connect"] == 10.0


def test_httpx_timeout_object_is_applied(api_key: str) -> None:
    custom = httpx.Timeout(300.0, connect=3.0)
    with respx.mock() as router, Client(timeout=custom) as client:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        client.edit(make_image(), "Add a hat")
    assert route.calls.last.request.extensions["timeout"] == custom.as_dict()


def test_own_http_client_still_gets_the_edit_timeout(api_key: str) -> None:
    # httpx.Client() defaults to 5 s, which would fail every real edit.
    with respx.mock() as router, Client(http_client=httpx.Client()) as client:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        client.edit(make_image(), "Add a hat")
    assert route.calls.last.request.extensions["timeout"]["read"] == 600.0

"""The retry policy, the send loop that applies it, timeouts, and ``imgedit edit --dry-run``.

The HTTP route is mocked with respx. The autouse ``retry_waits`` fixture (conftest.py) records
each wait between attempts instead of sleeping it, so every wait here is asserted, not slept.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner, Result
from conftest import EDITS_URL, TEST_KEY
from faults import files_in, fresh_imgedit_logging

from imgedit_core import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    Client,
    InvalidResponseError,
    RateLimitError,
    RedirectError,
    ServerError,
    UserError,
    error_class_for_status,
)
from imgedit_core.cli.main import cli
from imgedit_core.retry import RetryPolicy, coerce_policy, describe, retry_after_seconds
from imgedit_core.testing import make_image
from imgedit_core.transport import DEFAULT_TIMEOUT, Transport, coerce_timeout, parse_timeout

PROVIDER = "cometapi-gpt-image"
IMAGE = make_image()


def ok_body() -> dict[str, Any]:
    return {"created": 1, "data": [{"b64_json": base64.b64encode(IMAGE).decode()}]}


def error_body(message: str = "The server is overloaded", code: str | None = None) -> Any:
    return {"error": {"message": message, "type": "server_error", "param": None, "code": code}}


def status_error(status: int, code: str | None = None, **kwargs: Any) -> APIError:
    """The error the transport raises for ``status`` (and, for 5xx, its error code)."""
    return error_class_for_status(status, code)("failed", status=status, code=code, **kwargs)


@pytest.fixture(autouse=True)
def imgedit_logging() -> Iterator[None]:
    with fresh_imgedit_logging():
        yield


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


def edit(client: Client, **kwargs: Any) -> Any:
    return client.edit(IMAGE, "Add a hat", **kwargs)


# == RetryPolicy ==================================================================================


@pytest.mark.parametrize(
    ("status", "code", "retried"),
    [
        (400, None, False),
        (401, None, False),
        (403, None, False),
        (404, None, False),
        (408, None, True),
        (409, None, True),
        (413, None, False),
        (422, None, False),
        (429, None, True),
        (429, "rate_limit_exceeded", True),
        (500, None, True),
        (500, "server_error", True),
        (500, "invalid_request", False),
        (503, "invalid_request", False),
        (502, None, True),
        (503, None, True),
        (504, None, True),
        (524, None, True),
    ],
)
def test_retryable_statuses(status: int, code: str | None, retried: bool) -> None:
    assert RetryPolicy().retryable(status_error(status, code)) is retried


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (APIConnectionError("connection reset"), True),
        (APITimeoutError("slow", phase="connect"), True),
        (APITimeoutError("slow", phase="write"), True),
        (APITimeoutError("slow", phase="pool"), True),
        (APITimeoutError("slow", phase="read"), False),
        (RedirectError("moved", status=301), False),
        (InvalidResponseError("no images", status=200), False),
        (APIError("error envelope in a 200", status=200), False),
    ],
    ids=[
        "reset",
        "connect-timeout",
        "write-timeout",
        "pool-timeout",
        "read-timeout",
        "redirect",
        "malformed-2xx",
        "error-in-2xx",
    ],
)
def test_retryable_failures(error: APIError, retried: bool) -> None:
    assert RetryPolicy().retryable(error) is retried


def test_read_timeouts_are_retried_only_when_asked() -> None:
    error = APITimeoutError("slow", phase="read")
    assert RetryPolicy(retry_read_timeouts=True).retryable(error)
    assert RetryPolicy(retry_read_timeouts=True).decide(1, error) is not None
    assert RetryPolicy().decide(1, error) is None


@pytest.mark.parametrize(
    ("retry", "expected"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (20, 8.0)]
)
def test_backoff_doubles_from_half_a_second_to_8(retry: int, expected: float) -> None:
    error = status_error(503)
    policy = RetryPolicy()
    assert policy.delay(retry, error, rand=lambda: 0.0) == expected
    assert policy.delay(retry, error, rand=lambda: 1.0) == pytest.approx(expected * 0.75)
    assert policy.delay(retry, error, rand=lambda: 0.5) == pytest.approx(expected * 0.875)


def test_jitter_only_ever_shortens_the_wait() -> None:
    policy = RetryPolicy()
    waits = [policy.delay(2, status_error(503)) for _ in range(200)]
    assert all(0.75 <= w <= 1.0 for w in waits)
    assert len(set(waits)) > 1  # really jittered: many clients do not retry in step


def test_backoff_settings_are_honoured() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=3.0, jitter=0.0)
    assert [policy.delay(n, status_error(503)) for n in (1, 2, 3)] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("seconds", [0.0, 0.25, 3.5, 120.0])
def test_the_server_delay_is_used_as_given(seconds: float) -> None:
    error = status_error(429, retry_after=seconds)
    assert RetryPolicy().delay(1, error, rand=lambda: 1.0) == seconds
    assert RetryPolicy().decide(1, error) == seconds


@pytest.mark.parametrize("seconds", [120.001, 121.0, 3600.0])
def test_a_server_delay_over_120_s_is_not_retried(seconds: float) -> None:
    error = status_error(429, retry_after=seconds)
    assert RetryPolicy().decide(1, error) is None
    assert RetryPolicy(max_server_delay=seconds).decide(1, error) == seconds


def test_decide_stops_after_max_retries() -> None:
    error = status_error(503, retry_after=0.1)
    policy = RetryPolicy(max_retries=2)
    assert [policy.decide(attempt, error) for attempt in (1, 2, 3, 4)] == [0.1, 0.1, None, None]
    assert RetryPolicy(max_retries=0).decide(1, error) is None


def test_decide_never_retries_what_is_not_retryable() -> None:
    assert RetryPolicy(max_retries=5).decide(1, status_error(400)) is None


@pytest.mark.parametrize("value", [-1, True, 1.5, "2", None])
def test_max_retries_must_be_a_whole_number(value: object) -> None:
    with pytest.raises(UserError) as caught:
        RetryPolicy(max_retries=value)  # type: ignore[arg-type]
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("value", [-1, 2.5, "3"])
def test_a_bad_max_retries_fails_when_the_client_is_made(value: object) -> None:
    with pytest.raises(UserError, match="max_retries"):
        Client(api_key=TEST_KEY, max_retries=value)  # type: ignore[arg-type]


def test_coerce_policy() -> None:
    base = RetryPolicy(max_retries=5, retry_read_timeouts=True)
    assert coerce_policy(None) == RetryPolicy()
    assert coerce_policy(None, base) is base
    assert coerce_policy(0, base) == RetryPolicy(max_retries=0, retry_read_timeouts=True)
    assert coerce_policy(base, RetryPolicy()) is base


# -- the server's requested delay -----------------------------------------------------------------


def http_date(offset: float) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "30"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "30"}, 30.0),
        ({"retry-after-ms": "-10"}, 0.0),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": http_date(-3600)}, 0.0),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    seconds = retry_after_seconds({"retry-after": http_date(60)})
    assert seconds is not None
    assert 58 <= seconds <= 61


def test_retry_after_header_names_are_case_insensitive() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(httpx.Headers({"Retry-After-Ms": "20"})) == 0.02


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
@pytest.mark.parametrize("name", ["retry-after", "retry-after-ms"])
def test_a_retry_after_that_is_not_a_number_of_seconds_is_ignored(
    router: respx.MockRouter, retry_waits: list[float], name: str, value: str
) -> None:
    assert retry_after_seconds({name: value}) is None
    route = router.post(EDITS_URL).respond(429, json=error_body("slow"), headers={name: value})
    with Client(api_key=TEST_KEY) as client, pytest.raises(RateLimitError) as caught:
        edit(client)
    assert caught.value.retry_after is None
    assert "suggested" not in str(caught.value)  # not "(nan s suggested)"
    assert route.call_count == 3  # the client's own backoff instead
    assert all(0.375 <= w <= 1.0 for w in retry_waits)


def test_describe_names_the_failure() -> None:
    assert describe(status_error(503)) == "HTTP 503"
    assert describe(status_error(429, "rate_limit_exceeded")) == "HTTP 429 rate_limit_exceeded"
    assert describe(APIConnectionError("connection to h failed")) == "connection to h failed"


# == the send loop ================================================================================


def test_503_twice_then_success_sends_three_times_with_backoff(
    router: respx.MockRouter, retry_waits: list[float]
) -> None:
    route = router.post(EDITS_URL)
    route.side_effect = [
        httpx.Response(503, json=error_body()),
        httpx.Response(503, json=error_body()),
        httpx.Response(200, json=ok_body()),
    ]
    with Client(api_key=TEST_KEY) as client:
        result = edit(client)

    assert route.call_count == 3
    assert result.images[0].data == IMAGE
    first, second = retry_waits
    assert 0.375 <= first <= 0.5
    assert 0.75 <= second <= 1.0
    bodies = {call.request.read() for call in route.calls}
    assert len(bodies) == 1  # every attempt carried the same upload


def test_exhausted_retries_raise_the_last_error_with_attempts(
    router: respx.MockRouter, retry_waits: list[float]
) -> None:
    route = router.post(EDITS_URL).respond(503, json=error_body())
    with Client(api_key=TEST_KEY) as client, pytest.raises(ServerError) as caught:
        edit(client)

    assert route.call_count == 3
    assert len(retry_waits) == 2
    assert caught.value.attempts == 3
    assert "The server is overloaded (HTTP 503), after 3 attempts" in str(caught.value)


def test_a_refusal_after_a_retry_counts_both_attempts(
    router: respx.MockRouter, retry_waits: list[float]
) -> None:
    route = router.post(EDITS_URL)
    route.side_effect = [
        httpx.Response(503, json=error_body()),
        httpx.Response(400, json=error_body("bad size", "invalid_value")),
    ]
    with Client(api_key=TEST_KEY) as client, pytest.raises(BadRequestError) as caught:
        edit(client)

    assert route.call_count == 2
    assert len(retry_waits) == 1
    assert caught.value.attempts == 2
    assert "after 2 attempts" in str(caught.value)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json=error_body("bad", "invalid_value")),
        httpx.Response(401, json=error_body("bad key")),
        httpx.Response(403, json=error_body("not allowed")),
        httpx.Response(404, json=error_body("no such model")),
        httpx.Response(422, json=error_body("cannot")),
        httpx.Response(500, json=error_body("invalid request", "invalid_request")),
        httpx.Response(301, headers={"location": "https://www.cometapi.com/"}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"data": []}),
        httpx.Response(200, json={"data": [{"b64_json": "not base64!"}]}),
        httpx.Response(429, json=error_body("slow down"), headers={"retry-after": "121"}),
        httpx.ReadTimeout("timed out"),
    ],
    ids=[
        "400",
        "401",
        "403",
        "404",
        "422",
        "500-invalid_request",
        "301",
        "html-200",
        "no-images",
        "bad-base64",
        "429-wait-too-long",
        "read-timeout",
    ],
)
def test_sent_once(
    router: respx.MockRouter,
    retry_waits: list[float],
    answer: httpx.Response | Exception,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = router.post(EDITS_URL)
    if isinstance(answer, Exception):
        route.side_effect = answer
    else:
        route.return_value = answer
    caplog.set_level(logging.WARNING, logger="imgedit.transport")
    with Client(api_key=TEST_KEY) as client, pytest.raises(APIError) as caught:
        edit(client).images[0].data  # noqa: B018 (decoding is where bad base64 shows)

    assert route.call_count == 1
    assert retry_waits == []
    assert caught.value.attempts == 1
    assert "attempts" not in str(caught.value)
    assert caplog.records == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(408, json=error_body("timeout")),
        httpx.Response(409, json=error_body("conflict")),
        httpx.Response(429, json=error_body("slow down")),
        httpx.Response(500, json=error_body()),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(503),
        httpx.Response(504, json=error_body()),
        httpx.Response(524, json=error_body()),
        httpx.ConnectError("Connection refused"),
        httpx.ReadError("Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.PoolTimeout("timed out"),
    ],
    ids=[
        "408",
        "409",
        "429",
        "500",
        "502-html",
        "503-empty",
        "504",
        "524",
        "refused",
        "reset",
        "disconnected",
        "connect-timeout",
        "write-timeout",
        "pool-timeout",
    ],
)
def test_retried_twice(
    router: respx.MockRouter, retry_waits: list[float], answer: httpx.Response | Exception
) -> None:
    route = router.post(EDITS_URL)
    if isinstance(answer, Exception):
        route.side_effect = answer
    else:
        route.return_value = answer
    with Client(api_key=TEST_KEY) as client, pytest.raises(APIError) as caught:
        edit(client)

    assert route.call_count == 3
    assert len(retry_waits) == 2
    assert caught.value.attempts == 3
    assert str(caught.value).count("after 3 attempts") == 1


def test_read_timeouts_are_retried_when_the_policy_says_so(
    router: respx.MockRouter, retry_waits: list[float]
) -> None:
    route = router.post(EDITS_URL)
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json=ok_body())]
    policy = RetryPolicy(retry_read_timeouts=True)
    with Client(api_key=TEST_KEY, max_retries=policy) as client:
        assert edit(client).images[0].data == IMAGE
    assert route.call_count == 2
    assert len(retry_waits) == 1


@pytest.mark.parametrize(
    ("client_retries", "call_retries", "sent"),
    [(None, None, 3), (5, 0, 1), (0, 2, 3), (1, None, 2), (0, None, 1), (3, 1, 2)],
)
def test_a_per_call_max_retries_beats_the_client_default(
    router: respx.MockRouter,
    retry_waits: list[float],
    client_retries: int | None,
    call_retries: int | None,
    sent: int,
) -> None:
    route = router.post(EDITS_URL).respond(503, json=error_body())
    client = Client(api_key=TEST_KEY, max_retries=client_retries)
    with client, pytest.raises(ServerError) as caught:
        edit(client, max_retries=call_retries)
    assert route.call_count == sent
    assert len(retry_waits) == sent - 1
    assert caught.value.attempts == sent


@pytest.mark.parametrize(
    ("headers", "wait"),
    [({"retry-after-ms": "250"}, 0.25), ({"retry-after": "2"}, 2.0), ({"retry-after": "120"}, 120)],
)
def test_the_server_wait_is_waited(
    router: respx.MockRouter, retry_waits: list[float], headers: dict[str, str], wait: float
) -> None:
    route = router.post(EDITS_URL)
    route.side_effect = [
        httpx.Response(429, json=error_body("slow down"), headers=headers),
        httpx.Response(200, json=ok_body()),
    ]
    with Client(api_key=TEST_KEY) as client:
        edit(client)
    assert route.call_count == 2
    assert retry_waits == [wait]


def test_a_wait_over_120_s_is_reported_not_waited(
    router: respx.MockRouter, retry_waits: list[float]
) -> None:
    route = router.post(EDITS_URL).respond(
        429, json=error_body("slow down", "rate_limit_exceeded"), headers={"retry-after": "300"}
    )
    with Client(api_key=TEST_KEY) as client, pytest.raises(RateLimitError) as caught:
        edit(client)
    assert route.call_count == 1
    assert retry_waits == []
    assert caught.value.retry_after == 300
    assert "300 s suggested" in str(caught.value)


def test_each_retry_is_logged_with_its_reason_and_wait(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    route = router.post(EDITS_URL)
    route.side_effect = [
        httpx.Response(503, json=error_body(), headers={"retry-after-ms": "1500"}),
        httpx.Response(
            429, json=error_body("slow", "rate_limit_exceeded"), headers={"retry-after": "3"}
        ),
        httpx.Response(200, json=ok_body()),
    ]
    caplog.set_level(logging.DEBUG, logger="imgedit")
    with Client(api_key=TEST_KEY) as client:
        edit(client)

    records = [r for r in caplog.records if r.name == "imgedit.transport"]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.WARNING, f"HTTP 503 from {PROVIDER}; retrying in 1.5 s (retry 1 of 2)"),
        (
            logging.WARNING,
            f"HTTP 429 rate_limit_exceeded from {PROVIDER}; retrying in 3.0 s (retry 2 of 2)",
        ),
    ]
    assert route.call_count == 3


def test_a_connection_failure_is_logged_with_the_host(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture, retry_waits: list[float]
) -> None:
    route = router.post(EDITS_URL)
    route.side_effect = [httpx.ConnectError("boom"), httpx.Response(200, json=ok_body())]
    caplog.set_level(logging.WARNING, logger="imgedit.transport")
    with Client(api_key=TEST_KEY) as client:
        edit(client)

    [record] = caplog.records
    assert record.getMessage() == (
        f"connection to api.cometapi.com failed: ConnectError (boom) from {PROVIDER}; "
        f"retrying in {retry_waits[0]:.1f} s (retry 1 of 2)"
    )


def test_a_redirect_is_not_followed_even_by_a_callers_http_client(
    router: respx.MockRouter, retry_waits: list[float]
) -> None:
    moved = EDITS_URL.replace("/v1/", "/v2/")
    route = router.post(EDITS_URL).respond(301, headers={"location": moved})
    elsewhere = router.route(url=moved).respond(200, json=ok_body())
    with (
        httpx.Client(follow_redirects=True) as own,
        Client(api_key=TEST_KEY, http_client=own) as client,
        pytest.raises(RedirectError),
    ):
        edit(client)
    assert route.call_count == 1
    assert not elsewhere.called


def test_a_transport_with_its_own_sleep_uses_it(
    router: respx.MockRouter, retry_waits: list[float]
) -> None:
    route = router.post(EDITS_URL).respond(503, json=error_body(), headers={"retry-after": "4"})
    slept: list[float] = []
    with Client(api_key=TEST_KEY) as client:
        prepared = client.prepare(IMAGE, "Add a hat")
        transport = Transport(retry=1, sleep=slept.append)
        with pytest.raises(ServerError) as caught:
            transport.send(prepared.http_request, prepared.resolved.provider)
        transport.close()
    assert route.call_count == 2
    assert slept == [4.0]
    assert retry_waits == []
    assert caught.value.attempts == 2


# == timeouts =====================================================================================


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("600", 600.0),
        (" 90.5 ", 90.5),
        ("read=900", {"read": 900.0}),
        (
            "connect=5,read=900,write=60,pool=10",
            {"connect": 5.0, "read": 900.0, "write": 60.0, "pool": 10.0},
        ),
        ("connect = 5 , read = 0.5", {"connect": 5.0, "read": 0.5}),
    ],
)
def test_parse_timeout(text: str, expected: float | dict[str, float]) -> None:
    assert parse_timeout(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("fast", "'fast'"),
        ("", "''"),
        ("0", "'0'"),
        ("-5", "'-5'"),
        ("nan", "'nan'"),
        ("inf", "'inf'"),
        ("connect=5,reed=900", "'reed'"),
        ("READ=5", "'READ'"),
        ("read=soon", "'soon'"),
        ("read=", "''"),
        ("read=0", "'0'"),
        ("connect=5,", "''"),
        ("total=30", "'total'"),
    ],
)
def test_a_bad_timeout_is_a_user_error_naming_the_value(text: str, named: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_timeout(text)
    assert named in str(caught.value)
    assert caught.value.exit_code == 2


def test_coerce_timeout() -> None:
    assert coerce_timeout(None) == DEFAULT_TIMEOUT
    assert (DEFAULT_TIMEOUT.read, DEFAULT_TIMEOUT.connect) == (600, 10)
    assert coerce_timeout(90).as_dict() == {"connect": 10, "read": 90, "write": 90, "pool": 90}
    assert coerce_timeout(4).as_dict() == {"connect": 4, "read": 4, "write": 4, "pool": 4}
    partial = coerce_timeout({"read": 5}).as_dict()
    assert partial == {**DEFAULT_TIMEOUT.as_dict(), "read": 5}
    assert coerce_timeout("connect=2,read=3").as_dict() == {
        **DEFAULT_TIMEOUT.as_dict(),
        "connect": 2,
        "read": 3,
    }
    own = httpx.Timeout(1.0)
    assert coerce_timeout(own) is own
    with pytest.raises(UserError, match="'total'"):
        coerce_timeout({"total": 5})
    with pytest.raises(UserError, match="-1"):
        coerce_timeout(-1)


def test_a_bad_timeout_fails_when_the_client_is_made() -> None:
    with pytest.raises(UserError, match="'reed'"):
        Client(api_key=TEST_KEY, timeout="reed=5")


def sent_timeout(route: respx.Route) -> dict[str, float]:
    timeout: dict[str, float] = route.calls.last.request.extensions["timeout"]
    return timeout


def test_client_timeout_phases_reach_the_request(router: respx.MockRouter) -> None:
    route = router.post(EDITS_URL).respond(200, json=ok_body())
    with Client(api_key=TEST_KEY, timeout="connect=5,read=900,write=60,pool=10") as client:
        edit(client)
    assert sent_timeout(route) == {"connect": 5, "read": 900, "write": 60, "pool": 10}


def test_a_per_call_timeout_beats_the_client_default(router: respx.MockRouter) -> None:
    route = router.post(EDITS_URL).respond(200, json=ok_body())
    with Client(api_key=TEST_KEY, timeout=900) as client:
        edit(client, timeout=30)
        assert sent_timeout(route)["read"] == 30
        edit(client)
        assert sent_timeout(route)["read"] == 900


# == the CLI: flags and --dry-run =================================================================


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    for text in (result.stdout, result.stderr):
        assert TEST_KEY not in text, "the API key was printed"
        assert "Traceback" not in text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


@pytest.mark.usefixtures("api_key")
def test_cli_bad_timeout_names_the_value_and_sends_nothing(
    router: respx.MockRouter, png_path: Path, tmp_path: Path
) -> None:
    route = router.post(EDITS_URL).respond(200, json=ok_body())
    result = invoke("edit", png_path, "-p", "Add a hat", "--timeout", "read=soon")

    assert result.exit_code == 2
    assert "'soon'" in result.stderr
    assert route.call_count == 0
    assert files_in(tmp_path) == ["boat.png"]


@pytest.mark.usefixtures("api_key")
def test_cli_negative_max_retries_is_a_usage_error(
    router: respx.MockRouter, png_path: Path
) -> None:
    route = router.post(EDITS_URL).respond(200, json=ok_body())
    result = invoke("edit", png_path, "-p", "Add a hat", "--max-retries", "-1")
    assert result.exit_code == 2
    assert "--max-retries" in result.stderr
    assert route.call_count == 0


@pytest.mark.usefixtures("api_key")
@pytest.mark.parametrize(("flag", "sent"), [(None, 3), ("0", 1), ("1", 2), ("4", 5)])
def test_cli_max_retries(
    router: respx.MockRouter,
    retry_waits: list[float],
    png_path: Path,
    tmp_path: Path,
    flag: str | None,
    sent: int,
) -> None:
    route = router.post(EDITS_URL).respond(503, json=error_body(), headers={"retry-after": "1"})
    args = ["edit", png_path, "-p", "Add a hat"] + (["--max-retries", flag] if flag else [])
    result = invoke(*args)

    assert result.exit_code == 5
    assert route.call_count == sent
    assert retry_waits == [1.0] * (sent - 1)
    lines = result.stderr.splitlines()
    assert lines[:-1] == [
        f"imgedit: HTTP 503 from {PROVIDER}; retrying in 1.0 s (retry {n} of {sent - 1})"
        for n in range(1, sent)
    ]
    assert lines[-1].startswith("Error: ")
    assert ("after" in lines[-1]) == (sent > 1)
    assert files_in(tmp_path) == ["boat.png"]


@pytest.mark.usefixtures("api_key")
def test_dry_run_prints_the_request_and_sends_nothing(
    router: respx.MockRouter, png_path: Path, mask_path: Path, tmp_path: Path
) -> None:
    route = router.post(EDITS_URL).respond(200, json=ok_body())
    result = invoke(
        "edit",
        png_path,
        "-p",
        "Add a hat",
        "--mask",
        mask_path,
        "--quality",
        "low",
        "--timeout",
        "connect=5,read=900",
        "--max-retries",
        "1",
        "--dry-run",
    )

    assert result.exit_code == 0, result.stderr
    assert route.call_count == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"POST {EDITS_URL}"
    assert f"provider: {PROVIDER}" in lines
    assert "timeout: connect=5s read=900s write=600s pool=30s; max retries: 1" in lines
    assert "authorization: <redacted>" in lines
    assert "field prompt = Add a hat" in lines
    assert "field model = gpt-image-2" in lines
    assert "field quality = low" in lines
    size, mask_size = png_path.stat().st_size, mask_path.stat().st_size
    assert f"file image: boat.png (image/png, {size} bytes)" in lines
    assert f"file mask: mask.png (image/png, {mask_size} bytes)" in lines
    assert any(line.startswith("content-type: multipart/form-data; boundary=") for line in lines)
    assert lines[-1] == "(dry run: nothing was sent)"
    assert "not set" not in result.stdout
    assert files_in(tmp_path) == ["boat.png", "mask.png"]


@pytest.mark.usefixtures("api_key")
def test_dry_run_json(router: respx.MockRouter, png_path: Path, tmp_path: Path) -> None:
    route = router.post(EDITS_URL).respond(200, json=ok_body())
    result = invoke("edit", png_path, "-p", "Add a hat", "-n", "2", "--dry-run", "--json")

    assert result.exit_code == 0, result.stderr
    assert route.call_count == 0
    view = json.loads(result.stdout)
    assert (view["method"], view["url"], view["provider"]) == ("POST", EDITS_URL, PROVIDER)
    assert view["headers"]["authorization"] == "<redacted>"
    assert view["content_type"] == "multipart/form-data"
    assert view["fields"] == {"prompt": "Add a hat", "model": "gpt-image-2", "n": "2"}
    assert view["files"] == [
        {
            "name": "image",
            "filename": "boat.png",
            "content_type": "image/png",
            "size": png_path.stat().st_size,
        }
    ]
    assert view["timeout"] == DEFAULT_TIMEOUT.as_dict()
    assert view["max_retries"] == 2
    assert files_in(tmp_path) == ["boat.png"]


def test_dry_run_works_without_a_key_and_says_so(
    router: respx.MockRouter, png_path: Path, tmp_path: Path
) -> None:
    route = router.post(EDITS_URL).respond(200, json=ok_body())
    result = invoke("edit", png_path, "-p", "Add a hat", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert route.call_count == 0
    assert "authorization" not in result.stdout
    note = "note: COMETAPI_KEY is not set; a real run would stop here."
    assert note in result.stdout.splitlines()
    assert files_in(tmp_path) == ["boat.png"]

    as_json = invoke("edit", png_path, "-p", "Add a hat", "--dry-run", "--json")
    assert as_json.exit_code == 0, as_json.stderr
    assert "authorization" not in json.loads(as_json.stdout)["headers"]
    assert route.call_count == 0


@pytest.mark.usefixtures("api_key")
def test_dry_run_still_refuses_what_the_model_cannot_take(
    router: respx.MockRouter, png_path: Path, mask_path: Path
) -> None:
    route = router.post(EDITS_URL).respond(200, json=ok_body())
    result = invoke(
        "edit",
        png_path,
        "-p",
        "Add a hat",
        "-m",
        "qwen-image-edit",
        "--mask",
        mask_path,
        "--dry-run",
    )
    assert result.exit_code == 2
    assert "does not accept mask" in result.stderr
    assert result.stdout == ""
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("status", "retryable", "attempts"),
    [(503, False, 1), (400, True, 3), (503, None, 3), (400, None, 1)],
)
def test_a_providers_own_retryable_flag_beats_the_status(
    monkeypatch: pytest.MonkeyPatch, status: int, retryable: bool | None, attempts: int
) -> None:
    """A plugin that knows better (fal's X-Fal-Retryable) decides; otherwise the status does."""
    from imgedit_core.openai_compat import OpenAICompatibleProvider

    original = OpenAICompatibleProvider.parse_error

    def parse_error(self: OpenAICompatibleProvider, response: httpx.Response) -> APIError:
        error = original(self, response)
        error.retryable = retryable
        return error

    monkeypatch.setattr(OpenAICompatibleProvider, "parse_error", parse_error)
    with respx.mock() as router, Client(api_key=TEST_KEY) as client:
        route = router.post(EDITS_URL).respond(status, json={"error": {"message": "no"}})
        with pytest.raises(APIError) as caught:
            client.edit(make_image(), "Add a hat")
    assert route.call_count == attempts
    assert caught.value.attempts == attempts

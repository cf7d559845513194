"""Fault injection: each fault shows up as a client would meet it, in-process and per request."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from imgedit_core import APIError, Client, InvalidResponseError
from imgedit_core.emulator import (
    FAULT_HEADER,
    Emulator,
    FaultSpecError,
    offline_async_http_client,
    offline_http_client,
    parse_fault,
)
from imgedit_core.testing import make_image
from imgedit_core.transport import Transport

EDITS_URL = "https://api.cometapi.com/v1/images/edits"
Loader = Callable[[str], Any]
GPT = {"model": "gpt-image-2", "prompt": "Add a red hat", "size": "1024x640"}
QWEN = {"model": "qwen-image-edit", "prompt": "Add a flag"}
GPT_PROVIDER = "cometapi-gpt-image"


def request(fields: dict[str, str] = GPT, headers: dict[str, str] | None = None) -> httpx.Request:
    return httpx.Request(
        "POST",
        EDITS_URL,
        data=fields,
        files=[("image", ("boat.png", make_image(32, 32), "image/png"))],
        headers={"Authorization": "Bearer sk-t", **(headers or {})},
    )


def unauthorised(headers: dict[str, str] | None = None) -> httpx.Request:
    """A request the route refuses at once (401): cheap when only the fault matters."""
    return httpx.Request("POST", EDITS_URL, content=b"", headers=headers or {})


def send(emulator: Emulator, req: httpx.Request, **client_options: Any) -> httpx.Response:
    with offline_http_client(emulator=emulator, **client_options) as client:
        return client.send(req)


# -- the grammar -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind", "status", "delay", "params"),
    [
        ("503", "status", 503, 0.0, {}),
        ("429:retry-after=2", "status", 429, 0.0, {"retry-after": "2"}),
        ("429:retry-after-ms=1500,delay=0.1", "status", 429, 0.1, {"retry-after-ms": "1500"}),
        ("latency=0.05", "latency", None, 0.05, {}),
        ("ok", "ok", None, 0.0, {}),
        ("invalid-request", "invalid-request", 500, 0.0, {}),
        ("reset", "reset", None, 0.0, {}),
        ("truncate:at=40", "truncate", None, 0.0, {"at": "40"}),
        (
            "redirect:to=https://example.com/x",
            "redirect",
            None,
            0.0,
            {"to": "https://example.com/x"},
        ),
        (" HTML ", "html", None, 0.0, {}),
        ("502:body=html", "status", 502, 0.0, {"body": "html"}),
        ("oversize:bytes=2048", "oversize", None, 0.0, {"bytes": "2048"}),
        ("not-image:type=text/html", "not-image", None, 0.0, {"type": "text/html"}),
    ],
)
def test_specs_parse(
    spec: str, kind: str, status: int | None, delay: float, params: dict[str, str]
) -> None:
    (fault,) = parse_fault(spec)
    assert (fault.kind, fault.status, fault.delay, dict(fault.params)) == (
        kind,
        status,
        delay,
        params,
    )


def test_a_count_repeats_a_fault() -> None:
    assert [f.spec for f in parse_fault("503:retry-after=1*3")] == ["503:retry-after=1"] * 3


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("bogus", "unknown fault 'bogus'"),
        ("302", "use redirect"),
        ("503:retry=1", "unknown parameter 'retry'"),
        ("reset:at=1", "unknown parameter 'at'"),
        ("truncate:at=half", "not a number"),
        ("latency=soon", "not a number"),
        ("503*0", "bad repeat count"),
        ("503:oops", "not NAME=VALUE"),
        ("429:retry-after=later", "not seconds"),
    ],
)
def test_bad_specs_say_what_is_wrong_and_show_the_grammar(spec: str, words: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_fault(spec)
    assert words in str(caught.value)


def test_an_emulator_refuses_a_bad_plan_up_front() -> None:
    with pytest.raises(FaultSpecError):
        Emulator(faults=["503", "nonsense"])


# -- a plan, consumed one per request --------------------------------------------------------------


def test_503_503_then_normal() -> None:
    emulator = Emulator(faults=["503*2"])
    statuses = [send(emulator, unauthorised()).status_code for _ in range(3)]
    assert statuses == [503, 503, 401]
    assert [r.fault for r in emulator.requests] == ["503", "503", None]
    assert emulator.plan.pending() == []


def test_faults_can_be_added_later_and_ok_holds_a_place() -> None:
    emulator = Emulator()
    emulator.add_faults("ok", "429")
    assert emulator.plan.pending() == ["ok", "429"]
    assert [send(emulator, unauthorised()).status_code for _ in range(3)] == [401, 429, 401]


def test_a_header_fault_applies_to_its_request_only() -> None:
    emulator = Emulator(faults=["503"])
    response = send(emulator, unauthorised({FAULT_HEADER: "409"}))
    assert response.status_code == 409
    assert emulator.plan.pending() == ["503"]  # the plan was not consumed


@pytest.mark.parametrize("spec", ["bogus", "503*2"])
def test_a_bad_header_fault_is_a_400_naming_the_header(spec: str) -> None:
    response = send(Emulator(), unauthorised({FAULT_HEADER: spec}))
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_fault_spec", FAULT_HEADER)


# -- statuses and their envelopes ------------------------------------------------------------------


def test_429_looks_like_the_rate_limit_fixture(load_fixture: Loader) -> None:
    response = send(Emulator(faults=["429"]), request())
    assert response.status_code == 429
    assert response.json() == load_fixture("error-rate-limit.json")
    assert response.headers["retry-after"] == "1"
    assert "retry-after-ms" not in response.headers


@pytest.mark.parametrize(
    ("spec", "after", "after_ms"),
    [
        ("429:retry-after=2", "2", None),
        ("429:retry-after-ms=1500", None, "1500"),
        ("429:retry-after=3,retry-after-ms=2500", "3", "2500"),
        ("429:retry-after=none", None, None),
        ("503:retry-after=7", "7", None),
    ],
)
def test_retry_after_headers(spec: str, after: str | None, after_ms: str | None) -> None:
    response = send(Emulator(faults=[spec]), request())
    assert response.headers.get("retry-after") == after
    assert response.headers.get("retry-after-ms") == after_ms


@pytest.mark.parametrize("status", [200, 400, 403, 408, 409, 500, 502, 503, 504, 524])
def test_a_status_fault_comes_with_cometapis_envelope(status: int) -> None:
    response = send(Emulator(faults=[str(status)]), request())
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "comet_api_error"
    assert "(request id: " in error["message"]


def test_invalid_request_is_the_500_from_cometapis_guide(load_fixture: Loader) -> None:
    response = send(Emulator(faults=["invalid-request"]), request())
    expected = load_fixture("error-comet-500-invalid-request.json")["error"]
    error = response.json()["error"]
    assert response.status_code == 500
    assert {k: error[k] for k in ("type", "param", "code")} == {
        k: expected[k] for k in ("type", "param", "code")
    }
    assert error["message"].startswith("invalid request (request id: ")


def test_a_status_fault_can_name_its_code_and_message() -> None:
    response = send(Emulator(faults=["503:code=model_not_found,message=no channel"]), request())
    error = response.json()["error"]
    assert (error["code"], error["message"].split(" (")[0]) == ("model_not_found", "no channel")


def test_a_status_fault_can_be_an_html_page() -> None:
    response = send(Emulator(faults=["502:body=html"]), request())
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert b"502 Bad Gateway" in response.content


def test_a_200_error_envelope_is_an_error_to_imgedit() -> None:
    client = Client(http_client=offline_http_client(emulator=Emulator(faults=["200"])), api_key="k")
    with client, pytest.raises(APIError, match="upstream error"):
        client.edit(make_image(32, 32), "Add a hat", model="gpt-image-2", provider=GPT_PROVIDER)


# -- latency ---------------------------------------------------------------------------------------


def test_latency_delays_the_answer() -> None:
    emulator = Emulator(faults=["latency=0.1"])
    started = time.monotonic()
    assert send(emulator, unauthorised()).status_code == 401
    assert time.monotonic() - started >= 0.1
    (record,) = emulator.requests
    assert record.ended - record.started >= 0.1


def test_a_default_latency_applies_to_every_request() -> None:
    emulator = Emulator(latency=0.05, faults=["503:delay=0.05"])
    first, second = send(emulator, unauthorised()), send(emulator, unauthorised())
    durations = [r.ended - r.started for r in emulator.requests]
    assert (first.status_code, second.status_code) == (503, 401)
    assert durations[0] >= 0.1
    assert durations[1] >= 0.05


def test_a_delay_past_the_read_timeout_times_out_in_process() -> None:
    emulator = Emulator(faults=["latency=5"])
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        send(emulator, unauthorised(), timeout=httpx.Timeout(1.0, read=0.05))
    assert time.monotonic() - started < 1.0
    assert emulator.requests[0].status is None


# -- broken answers --------------------------------------------------------------------------------


def test_reset_raises_what_httpx_raises_on_a_reset() -> None:
    emulator = Emulator(faults=["reset"])
    with pytest.raises(httpx.ReadError, match="reset"):
        send(emulator, request())
    assert emulator.requests[0].status is None


def test_truncate_cuts_the_json() -> None:
    response = send(Emulator(faults=["truncate"]), request())
    assert response.status_code == 200
    assert response.content.startswith(b'{"created": ')
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert int(response.headers["content-length"]) == len(response.content)


def test_truncate_at_a_byte_count() -> None:
    response = send(Emulator(faults=["truncate:at=10"]), request())
    assert response.content == b'{"created"'


def test_early_close_is_a_protocol_error() -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        send(Emulator(faults=["early-close:at=100"]), request())


def test_html_is_a_200_page() -> None:
    response = send(Emulator(faults=["html"]), request())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content.lstrip().lower().startswith(b"<!doctype html>")


@pytest.mark.parametrize(
    ("spec", "status", "location"),
    [
        ("redirect", 301, "https://www.cometapi.com/"),
        (
            "redirect:to=https://elsewhere.example/v1,status=308",
            308,
            "https://elsewhere.example/v1",
        ),
    ],
)
def test_redirect(spec: str, status: int, location: str) -> None:
    response = send(Emulator(faults=[spec]), request())
    assert (response.status_code, response.headers["location"]) == (status, location)


def test_bad_b64_is_not_base64() -> None:
    body = send(Emulator(faults=["bad-b64"]), request()).json()
    text = body["data"][0]["b64_json"]
    assert text.startswith("iVBORw0KGgo")
    with pytest.raises(binascii.Error):
        base64.b64decode(text, validate=True)


def test_bad_b64_is_an_invalid_response_to_imgedit() -> None:
    client = Client(
        http_client=offline_http_client(emulator=Emulator(faults=["bad-b64"])), api_key="k"
    )
    with client:
        result = client.edit(
            make_image(32, 32), "Add a hat", model="gpt-image-2", provider=GPT_PROVIDER
        )
        with pytest.raises(InvalidResponseError, match="base64"):
            _ = result.images[0].data


# -- URL outputs: the download ---------------------------------------------------------------------


def qwen_url(emulator: Emulator) -> str:
    response = send(emulator, request(QWEN))
    assert response.status_code == 200
    url: str = response.json()["data"][0]["url"]
    return url


def test_oversize_serves_a_body_larger_than_imgedits_cap() -> None:
    emulator = Emulator(faults=["oversize"])
    url = qwen_url(emulator)
    with offline_http_client(emulator=emulator) as client, client.stream("GET", url) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == 64 * 1024 * 1024 + 1
        first = next(response.iter_raw())
    assert first.startswith(b"\x89PNG\r\n\x1a\n")


def test_oversize_is_refused_by_imgedits_download_cap() -> None:
    emulator = Emulator(faults=["oversize:bytes=5000"])
    url = qwen_url(emulator)
    transport = Transport(
        http_client=offline_http_client(emulator=emulator), max_download_bytes=4096
    )
    with pytest.raises(InvalidResponseError, match="larger than 4096 bytes"):
        transport.download(url)


def test_not_image_download_fails_in_imgedit() -> None:
    """Downloads do not consume the plan: the second edit takes not-image, the first ok."""
    emulator = Emulator(faults=["ok", "not-image"])
    with Client(http_client=offline_http_client(emulator=emulator), api_key="k") as client:
        kwargs: dict[str, Any] = {
            "model": "qwen-image-edit",
            "provider": "cometapi-qwen-image-edit",
        }
        fine = client.edit(make_image(32, 32), "Add a flag", **kwargs)
        assert fine.images[0].data.startswith(b"\x89PNG")
        broken = client.edit(make_image(32, 32), "Add a hat", **kwargs)
        with pytest.raises(InvalidResponseError):
            _ = broken.images[0].data
    gets = [r for r in emulator.requests if r.method == "GET"]
    assert [r.status for r in gets] == [200, 200]


def test_downloads_leave_the_plan_alone_but_obey_the_header() -> None:
    emulator = Emulator()
    url = qwen_url(emulator)
    emulator.add_faults("503")
    with offline_http_client(emulator=emulator) as client:
        plain = client.get(url)
        faulty = client.get(url, headers={FAULT_HEADER: "not-image:type=text/html"})
    assert (plain.status_code, plain.headers["content-type"]) == (200, "image/png")
    assert emulator.plan.pending() == ["503"]
    assert faulty.headers["content-type"] == "text/html"
    assert b"AccessDenied" in faulty.content


# -- the async transport ---------------------------------------------------------------------------


def test_the_async_client_overlaps_requests_and_fails_the_same_way() -> None:
    emulator = Emulator(latency=0.2, faults=["ok", "ok", "ok", "reset"])

    async def main() -> list[int]:
        async with offline_async_http_client(emulator=emulator) as client:
            statuses = await asyncio.gather(*(client.send(unauthorised()) for _ in range(3)))
            with pytest.raises(httpx.ReadError):
                await client.send(unauthorised())
            return [r.status_code for r in statuses]

    started = time.monotonic()
    assert asyncio.run(main()) == [401, 401, 401]
    assert time.monotonic() - started < 0.6  # three 0.2 s requests overlapped, then one more
    assert emulator.log.peak_concurrency() == 3

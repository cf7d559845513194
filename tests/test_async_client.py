"""``AsyncClient``: the sync client's rules on an event loop, real overlap, rate limits, and
uploads streamed from disk rather than held in memory."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import socketserver
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from conftest import EDITS_URL, TEST_KEY

from imgedit_core import (
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    CapabilityError,
    Client,
    Config,
    InputError,
    InvalidResponseError,
    RateLimiter,
    ServerError,
    UserError,
)
from imgedit_core.config import ProviderEntry
from imgedit_core.emulator import Emulator, EmulatorServer
from imgedit_core.inputs import DiskFile, ImageInput
from imgedit_core.testing import make_image
from imgedit_core.wire import decode_request

IMAGE = make_image()
OUT = make_image(color="green")


def ok_body(image: bytes = OUT) -> dict[str, Any]:
    return {"created": 1, "data": [{"b64_json": base64.b64encode(image).decode()}]}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- the same contract as the sync client --------------------------------------------------


def test_async_and_sync_send_the_same_request(png_path: Path, api_key: str) -> None:
    async def go() -> bytes:
        async with AsyncClient() as client:
            result = await client.edit(png_path, "Add a hat", model="gpt-image-2", quality="high")
            return await result.image.aload()

    with respx.mock() as router:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        assert run(go()) == OUT
        with Client() as client:
            client.edit(png_path, "Add a hat", model="gpt-image-2", quality="high")
    async_sent, sync_sent = (decode_request(call.request) for call in route.calls)
    assert (
        async_sent.fields
        == sync_sent.fields
        == {
            "prompt": ["Add a hat"],
            "model": ["gpt-image-2"],
            "quality": ["high"],
        }
    )
    for sent in (async_sent, sync_sent):
        (part,) = sent.files_named("image")
        assert (part.filename, part.content_type, part.data) == (
            "boat.png",
            "image/png",
            png_path.read_bytes(),
        )
    assert route.calls[0].request.headers["authorization"] == f"Bearer {TEST_KEY}"


def test_capabilities_refuse_before_anything_is_sent(api_key: str) -> None:
    async def go() -> None:
        async with AsyncClient() as client:
            await client.edit(IMAGE, "x", model="gpt-image-2", n=0)

    with respx.mock(assert_all_called=False) as router:
        route = router.post(EDITS_URL).respond(200, json=ok_body())
        with pytest.raises(CapabilityError, match="gpt-image-2"):
            run(go())
    assert route.call_count == 0


def test_retries_follow_the_same_policy(api_key: str, retry_waits: list[float]) -> None:
    async def go() -> bytes:
        async with AsyncClient(max_retries=2) as client:
            return await (await client.edit(IMAGE, "x", model="gpt-image-2")).image.aload()

    with respx.mock() as router:
        route = router.post(EDITS_URL).mock(
            side_effect=[
                httpx.Response(503, json={"error": {"message": "busy"}}),
                httpx.Response(
                    429, json={"error": {"message": "slow"}}, headers={"retry-after": "3"}
                ),
                httpx.Response(200, json=ok_body()),
            ]
        )
        assert run(go()) == OUT
    assert route.call_count == 3
    assert len(retry_waits) == 2
    assert retry_waits[1] == 3.0  # the server's retry-after, honoured


def test_giving_up_says_how_many_attempts(api_key: str, retry_waits: list[float]) -> None:
    async def go() -> None:
        async with AsyncClient(max_retries=1) as client:
            await client.edit(IMAGE, "x", model="gpt-image-2")

    with respx.mock() as router:
        router.post(EDITS_URL).respond(503, json={"error": {"message": f"busy {TEST_KEY}"}})
        with pytest.raises(ServerError) as caught:
            run(go())
    assert caught.value.attempts == 2
    assert "after 2 attempts" in str(caught.value)
    assert TEST_KEY not in str(caught.value)


def test_auth_errors_are_not_retried(api_key: str, retry_waits: list[float]) -> None:
    async def go() -> None:
        async with AsyncClient() as client:
            await client.edit(IMAGE, "x", model="gpt-image-2")

    with respx.mock() as router:
        route = router.post(EDITS_URL).respond(401, json={"error": {"message": "Invalid token"}})
        with pytest.raises(AuthenticationError):
            run(go())
    assert route.call_count == 1
    assert retry_waits == []


def test_read_timeout_is_typed_with_its_phase(api_key: str) -> None:
    async def go() -> None:
        async with AsyncClient(timeout={"read": 5}) as client:
            await client.edit(IMAGE, "x", model="gpt-image-2")

    with respx.mock() as router:
        route = router.post(EDITS_URL).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(APITimeoutError) as caught:
            run(go())
    assert caught.value.phase == "read"
    assert route.call_count == 1  # a read timeout was probably billed: not retried
    assert route.calls[0].request.extensions["timeout"]["read"] == 5


def test_url_answers_download_when_awaited(api_key: str) -> None:
    url = "https://files.example/out.png?sig=secret"

    async def go() -> tuple[Any, bytes]:
        async with AsyncClient() as client:
            result = await client.edit(IMAGE, "x", model="qwen-image-edit")
            with pytest.raises(InvalidResponseError, match="aload"):
                _ = result.image.data  # sync access cannot download through an async pool
            return result, await result.image.aload()

    with respx.mock() as router:
        router.post(EDITS_URL).respond(200, json={"created": 1, "data": [{"url": url}]})
        download = router.get(url).respond(200, content=OUT)
        result, data = run(go())
    assert data == OUT
    assert result.image.data == OUT  # loaded once, kept
    assert download.call_count == 1


def test_offline_async_client_needs_no_key_and_closes_its_emulator(tmp_path: Path) -> None:
    async def go() -> tuple[bytes, bool]:
        client = AsyncClient(offline=True, keys=False, config=Config())
        result = await client.edit(IMAGE, "Add a ribbon", model="qwen-image-edit")
        data = await result.image.aload()
        http = client.transport.async_client
        await client.aclose()
        return data, http.is_closed

    data, closed = run(go())
    assert data.startswith(b"\x89PNG")
    assert closed


# -- real overlap, and rate limits --------------------------------------------------------


@pytest.fixture
def slow_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator(latency=0.3, cache=True)) as server:
        yield server


def _many(base_url: str, count: int, **client_kwargs: Any) -> list[bytes]:
    async def go() -> list[bytes]:
        async with AsyncClient(
            api_key="sk-async", base_url=base_url, keys=False, config=Config(), **client_kwargs
        ) as client:
            results = await asyncio.gather(
                *(client.edit(IMAGE, f"job {i}", model="gpt-image-2") for i in range(count))
            )
            return [await r.image.aload() for r in results]

    return list(run(go()))


@pytest.mark.integration
def test_edits_really_overlap_on_one_event_loop(slow_server: EmulatorServer) -> None:
    outputs = _many(slow_server.base_url, 8)
    assert len(outputs) == 8
    assert all(o.startswith(b"\x89PNG") for o in outputs)
    assert slow_server.emulator.log.peak_concurrency() == 8  # seen by the server, not timed here
    prompts = sorted(r.fields["prompt"] for r in slow_server.requests)
    assert prompts == sorted(f"job {i}" for i in range(8))


@pytest.mark.integration
def test_rate_limit_spaces_request_starts_at_the_server() -> None:
    with EmulatorServer(Emulator(cache=True)) as server:
        _many(server.base_url, 4, rate_limits={"cometapi-gpt-image": 300})  # one per 0.2 s
        starts = sorted(r.started for r in server.requests)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3
    # 0.2 s apart at the client; the server's clock sees connection set-up jitter on top.
    assert min(gaps) >= 0.1, gaps
    assert starts[-1] - starts[0] >= 0.5, gaps


@pytest.mark.integration
def test_retries_wait_their_turn_under_the_rate_limit() -> None:
    with EmulatorServer(Emulator(faults=["503"], cache=True)) as server:
        _many(server.base_url, 2, rate_limits=300, max_retries=1)
        records = sorted(server.requests, key=lambda r: r.started)
    assert [r.status for r in records].count(503) == 1
    assert len(records) == 3
    starts = [r.started for r in records]
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.1
    assert starts[-1] - starts[0] >= 0.3


def test_rate_limit_comes_from_the_client_then_config() -> None:
    config = Config(
        providers={
            "cometapi-gpt-image": ProviderEntry(name="cometapi-gpt-image", rpm=30),
            "cometapi-qwen-image-edit": ProviderEntry(name="cometapi-qwen-image-edit"),
        }
    )
    client = AsyncClient(config=config, keys=False, rate_limits={"other": 5})
    assert client.rate_limit("cometapi-gpt-image") == 30
    assert client.rate_limit("cometapi-qwen-image-edit") is None
    assert client.rate_limit("other") == 5
    assert AsyncClient(config=config, rate_limits=12).rate_limit("cometapi-gpt-image") == 12


@pytest.mark.parametrize("bad", [0, -1, "60", True, float("inf")])
def test_bad_rate_limits_are_user_errors(bad: Any) -> None:
    with pytest.raises(UserError, match=r"requests a minute|finite"):
        AsyncClient(rate_limits=bad)
    with pytest.raises(UserError):
        RateLimiter(bad)


def test_config_rpm_is_checked(tmp_path: Path) -> None:
    from imgedit_core import ConfigError, load_config

    path = tmp_path / "imgedit.toml"
    path.write_text('[providers.cometapi-gpt-image]\nrpm = "fast"\n')
    with pytest.raises(ConfigError, match="rpm must be a number"):
        load_config(path, {})
    path.write_text("[providers.cometapi-gpt-image]\nrpm = 90\n")
    assert load_config(path, {}).providers["cometapi-gpt-image"].rpm == 90


# -- uploads streamed from disk ------------------------------------------------------------


class _DiscardingHandler(socketserver.StreamRequestHandler):
    """Reads the upload in small pieces and throws it away: the client alone holds memory."""

    received: list[int]
    answer: bytes

    def handle(self) -> None:
        length = 0
        while True:
            line = self.rfile.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        left = length
        while left:
            left -= len(self.rfile.read(min(left, 65536)))
        type(self).received.append(length)
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(self.answer)).encode() + b"\r\n\r\n" + self.answer
        )


@pytest.mark.integration
def test_a_large_upload_is_streamed_not_held(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as fh:  # a PNG signature, then 24 MB: the sniffing reads the head only
        fh.write(make_image(8, 8))
        fh.write(os.urandom(24 * 1024 * 1024))
    handler = type(
        "Handler", (_DiscardingHandler,), {"received": [], "answer": json.dumps(ok_body()).encode()}
    )
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with Client(api_key="sk-stream", base_url=base_url, keys=False, config=Config()) as client:
            client.transport  # noqa: B018 - the pool exists before measuring
            tracemalloc.start()
            try:
                result = client.edit(big, "x", model="gpt-image-2")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        server.shutdown()
    assert result.image.data == OUT
    assert handler.received[0] > big.stat().st_size  # the whole file went, in one request
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a 24 MB upload"


def test_built_request_streams_the_file_and_resends_it_whole_on_retry(
    png_path: Path, api_key: str, retry_waits: list[float]
) -> None:
    with respx.mock() as router, Client() as client:
        prepared = client.prepare(png_path, "x", model="gpt-image-2")
        fields = prepared.http_request.stream.fields  # type: ignore[attr-defined]
        assert [type(f.file) for f in fields if hasattr(f, "file")] == [DiskFile]
        route = router.post(EDITS_URL).mock(
            side_effect=[httpx.Response(502), httpx.Response(200, json=ok_body())]
        )
        client.send(prepared)
    sent = [decode_request(call.request).files_named("image")[0].data for call in route.calls]
    assert sent == [png_path.read_bytes()] * 2


def test_a_file_that_changes_while_it_is_sent_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "growing.png"
    path.write_bytes(IMAGE)
    upload = ImageInput.from_path(path).upload()
    assert isinstance(upload, DiskFile)
    assert upload.seek(0, os.SEEK_END) == len(IMAGE)
    path.write_bytes(IMAGE + b"more bytes")
    upload.seek(0)
    with pytest.raises(InputError, match="changed while it was being sent"):
        _drain(upload)
    upload.seek(0)
    path.write_bytes(IMAGE[:10])
    with pytest.raises(InputError, match="changed while it was being sent"):
        _drain(upload)


def _drain(upload: DiskFile) -> None:
    while upload.read(16):
        pass


def test_results_say_how_many_attempts_they_took(api_key: str, retry_waits: list[float]) -> None:
    async def go() -> int:
        async with AsyncClient() as client:
            return (await client.edit(IMAGE, "x", model="gpt-image-2")).attempts

    answers = [
        httpx.Response(503, json={"error": {"message": "busy"}}),
        httpx.Response(200, json=ok_body()),
    ]
    with respx.mock() as router:
        router.post(EDITS_URL).mock(side_effect=list(answers))
        assert run(go()) == 2
        router.post(EDITS_URL).mock(side_effect=list(answers))
        with Client() as client:
            assert client.edit(IMAGE, "x", model="gpt-image-2").attempts == 2
        router.post(EDITS_URL).respond(200, json=ok_body())
        with Client() as client:
            assert client.edit(IMAGE, "x", model="gpt-image-2").attempts == 1


def test_a_star_rate_limit_covers_the_providers_not_named() -> None:
    client = AsyncClient(
        config=Config(), keys=False, rate_limits={"*": 20, "cometapi-gpt-image": 5}
    )
    assert client.rate_limit("cometapi-gpt-image") == 5
    assert client.rate_limit("cometapi-qwen-image-edit") == 20


# -- the answer's body is not kept alive while the image decodes ---------------------------


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_answer_body_is_freed_once_parsed_without_waiting_for_gc(
    api_key: str, flavour: str
) -> None:
    import gc
    import weakref

    seen: list[weakref.ref[httpx.Response]] = []
    real_check = __import__("imgedit_core.transport", fromlist=["check_status"]).check_status

    def spy(response: httpx.Response, provider: Any) -> httpx.Response:
        seen.append(weakref.ref(response))
        return real_check(response, provider)

    async def go_async() -> Any:
        async with AsyncClient() as client:
            return await client.edit(IMAGE, "x", model="gpt-image-2")

    gc.disable()
    try:
        with respx.mock(assert_all_called=False) as router, pytest.MonkeyPatch.context() as mp:
            mp.setattr("imgedit_core.transport.check_status", spy)
            router.post(EDITS_URL).respond(200, json=ok_body())
            if flavour == "async":
                result = run(go_async())
            else:
                with Client() as client:
                    result = client.edit(IMAGE, "x", model="gpt-image-2")
            router.reset()  # respx keeps its calls (and their responses) for inspection
            alive = [ref() is not None for ref in seen]
    finally:
        gc.enable()
    assert alive == [False]
    assert result.image.data == OUT


def test_whitespace_in_b64_still_decodes() -> None:
    from imgedit_core.result import decode_b64_image

    text = base64.b64encode(OUT).decode()
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert decode_b64_image(text) == decode_b64_image(wrapped) == OUT
    with pytest.raises(InvalidResponseError, match="not valid base64"):
        decode_b64_image(text[:-3] + "!!=")


def test_small_bodies_go_out_in_one_piece_large_ones_stream(tmp_path: Path) -> None:
    """httpx writes each multipart field separately; a small edit is joined first (one socket
    write instead of ~18), a large upload keeps streaming from disk."""
    from imgedit_core.transport import SMALL_BODY, _coalesced

    def request_for(size: int) -> httpx.Request:
        path = tmp_path / f"{size}.png"
        path.write_bytes(IMAGE + bytes(size - len(IMAGE)))
        with Client(api_key="sk-x", keys=False, config=Config()) as client:
            return client.prepare(path, "x", model="gpt-image-2").http_request

    small = _coalesced(request_for(64 * 1024))
    assert isinstance(small.stream, httpx.ByteStream)
    assert len(small.content) == int(small.headers["content-length"])
    large = _coalesced(request_for(SMALL_BODY + 1))
    with pytest.raises(httpx.RequestNotRead):
        _ = large.content

"""What batch and benchmark tests lean on: the text fields in the request log, an answer cache
that changes nothing but the server's work, and a server that can hold its answers."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from imgedit_core.emulator import Emulator, EmulatorServer
from imgedit_core.testing import make_image

pytestmark = pytest.mark.integration

KEY = "sk-emulator-extras"


def _post(base_url: str, prompt: str, image: bytes) -> httpx.Response:
    return httpx.post(
        f"{base_url}/images/edits",
        headers={"Authorization": f"Bearer {KEY}"},
        data={"model": "gpt-image-2", "prompt": prompt, "size": "1024x1024"},
        files={"image": ("boat.png", image, "image/png")},
        timeout=30,
    )


def test_log_records_each_edit_text_fields_even_when_a_fault_answers() -> None:
    with EmulatorServer(Emulator(faults=["503"])) as server:
        assert _post(server.base_url, "job 7: ribbon", make_image(16, 16)).status_code == 503
        assert _post(server.base_url, "job 8: ribbon", make_image(16, 16)).status_code == 200
        httpx.get(f"{server.origin}/elsewhere")
    first, second, other = server.requests
    assert (first.status, first.fields["prompt"]) == (503, "job 7: ribbon")
    assert dict(second.fields) == {
        "model": "gpt-image-2",
        "prompt": "job 8: ribbon",
        "size": "1024x1024",
    }
    assert other.fields == {}


def test_cache_renders_identical_requests_once_and_answers_the_same_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from imgedit_core.emulator import app

    renders: list[object] = []
    real = app.Emulator._render
    monkeypatch.setattr(
        app.Emulator, "_render", lambda self, plan: renders.append(plan) or real(self, plan)
    )
    emulator = Emulator(cache=True, created=1)
    image = make_image(24, 24)
    with EmulatorServer(emulator) as server:
        a = _post(server.base_url, "same", image)
        b = _post(server.base_url, "same", image)
        c = _post(server.base_url, "different", image)
    assert a.status_code == b.status_code == c.status_code == 200
    assert len(renders) == 2  # the repeat came from the cache
    assert a.json()["data"] == b.json()["data"] != c.json()["data"]
    # Without the cache, the same bytes come back: the cache saves work, nothing else.
    with EmulatorServer(Emulator(created=1)) as server:
        assert _post(server.base_url, "same", image).json()["data"] == a.json()["data"]


def test_pause_holds_answers_until_resume() -> None:
    with EmulatorServer() as server:
        server.pause()
        assert server.paused
        answers: list[httpx.Response] = []
        thread = threading.Thread(
            target=lambda: answers.append(_post(server.base_url, "held", make_image(16, 16)))
        )
        thread.start()
        time.sleep(0.5)  # long enough for the request to arrive; the answer must still wait
        assert answers == []  # read, answered nothing yet
        assert server.requests == []
        server.resume()
        thread.join(10)
    assert [r.status_code for r in answers] == [200]
    assert [r.status for r in server.requests] == [200]


def test_cached_repeats_skip_parsing_but_not_faults_or_auth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from imgedit_core.emulator import app

    parses: list[int] = []
    real = app._read_form
    monkeypatch.setattr(app, "_read_form", lambda request: parses.append(1) or real(request))
    emulator = Emulator(cache=True, created=1, faults=["ok", "ok", "503"], api_keys=[KEY])
    image = make_image(24, 24)
    with EmulatorServer(emulator) as server:
        first = _post(server.base_url, "same", image)
        second = _post(server.base_url, "same", image)  # new boundary, same request: cached
        third = _post(server.base_url, "same", image)  # the plan's 503 still applies
        refused = httpx.post(
            f"{server.base_url}/images/edits",
            headers={"Authorization": "Bearer sk-other"},
            data={"model": "gpt-image-2", "prompt": "same", "size": "1024x1024"},
            files={"image": ("boat.png", image, "image/png")},
        )
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 503)
    assert first.content == second.content
    assert refused.status_code == 401  # the key is part of what is cached
    assert len(parses) == 2  # the first request and the other key's; repeats come from memory
    assert [r.fields.get("prompt") for r in server.requests] == ["same"] * 4

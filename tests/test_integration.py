"""The installed ``imgedit`` command, run as a process, against a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BUILTIN_PLUGINS, installed_imgedit
from loopback import LoopbackServer

from imgedit_core.testing import make_image

pytestmark = pytest.mark.integration

SENTINEL_KEY = "sk-loopback-sentinel-7f3a9c2e5b1d"
PROMPT = "Add a small red ribbon to the paper boat"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def run_imgedit(
    server: LoopbackServer, tmp_path: Path
) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: object) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COMETAPI_", "IMGEDIT_")) and "proxy" not in k.lower()
        }
        env.update(
            COMETAPI_BASE_URL=server.base_url,
            COMETAPI_KEY=SENTINEL_KEY,
            IMGEDIT_LOAD_PLUGINS=BUILTIN_PLUGINS,  # contrib's fal also serves qwen-image-edit
        )
        done = subprocess.run(
            [installed_imgedit(), *map(str, args)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        assert SENTINEL_KEY not in done.stdout + done.stderr
        return done

    return run


def test_gpt_edit_over_loopback(
    server: LoopbackServer,
    run_imgedit: Callable[..., subprocess.CompletedProcess[str]],
    png_path: Path,
    tmp_path: Path,
    load_fixture: Callable[[str], Any],
) -> None:
    body = load_fixture("gpt-image-2-ok.json")
    server.answer_edit(body)
    out = tmp_path / "boat-ribbon.png"

    done = run_imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"
    assert out.read_bytes() == base64.b64decode(body["data"][0]["b64_json"])

    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/images/edits")
    assert request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
    assert request.content_type.startswith("multipart/form-data; boundary=")
    [image] = request.files()
    assert (image.name, image.filename, image.content_type) == ("image", "boat.png", "image/png")
    assert image.data == png_path.read_bytes()
    fields = request.form_fields()
    assert fields == {"prompt": PROMPT, "model": "gpt-image-2"}
    assert "response_format" not in fields


def test_qwen_edit_downloads_from_the_returned_url(
    server: LoopbackServer,
    run_imgedit: Callable[..., subprocess.CompletedProcess[str]],
    png_path: Path,
    tmp_path: Path,
    load_fixture: Callable[[str], Any],
) -> None:
    served = make_image(40, 24, color="red")
    url = server.serve_file("/files/result.png", served) + "?Expires=1781161400&Signature=abc"
    body = load_fixture("qwen-image-edit-ok.json")
    body["data"][0]["url"] = url
    server.answer_edit(body)
    out = tmp_path / "qwen.png"

    done = run_imgedit(
        "edit", png_path, "-p", PROMPT, "-m", "qwen-image-edit", "--option", "watermark=false",
        "-o", out,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"
    assert out.read_bytes() == served

    post, get = server.requests
    assert (post.method, post.path) == ("POST", "/v1/images/edits")
    assert post.form_fields() == {
        "prompt": PROMPT,
        "model": "qwen-image-edit",
        "watermark": "false",
    }
    [image] = post.files()
    assert (image.name, image.filename, image.content_type) == ("image", "boat.png", "image/png")
    assert (get.method, get.path) == ("GET", "/files/result.png?Expires=1781161400&Signature=abc")
    assert "authorization" not in get.headers


def test_comet_500_invalid_request_fails_cleanly(
    server: LoopbackServer,
    run_imgedit: Callable[..., subprocess.CompletedProcess[str]],
    png_path: Path,
    tmp_path: Path,
    load_fixture: Callable[[str], Any],
) -> None:
    server.answer_edit(load_fixture("error-comet-500-invalid-request.json"), status=500)
    out = tmp_path / "never.png"

    done = run_imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.startswith("Error: ")
    assert done.stderr.count("\n") == 1
    assert "invalid request" in done.stderr.lower()
    assert "HTTP 500" in done.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boat.png"]
    assert len(server.edit_requests()) == 1


def test_unreachable_server_is_a_connection_error(
    run_imgedit: Callable[..., subprocess.CompletedProcess[str]],
    server: LoopbackServer,
    png_path: Path,
    tmp_path: Path,
) -> None:
    server.stop()  # nothing listens on that port any more
    out = tmp_path / "never.png"

    done = run_imgedit(
        "edit", png_path, "-p", PROMPT, "-o", out, "--timeout", "5", "--max-retries", "0"
    )

    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("Error: ")
    assert "127.0.0.1" in done.stderr
    assert not out.exists()

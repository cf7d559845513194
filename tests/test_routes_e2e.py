"""The one-line swap, end to end: the installed ``imgedit`` command, run as a process, sends a
model to one provider, and after one line is added under ``[routes]`` to another.

Two real HTTP servers on 127.0.0.1 stand for the two services. What is asserted is what each
server received (how many requests, the Authorization header, the body) and the bytes written.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import installed_imgedit
from loopback import LoopbackServer, _Answer

from imgedit_core.testing import make_image

pytestmark = pytest.mark.integration

COMET_KEY = "sk-comet-e2e-sentinel-3c9a1f"
OPENAI_KEY = "sk-openai-e2e-sentinel-8d2b4e"
FAL_KEY = "fal-e2e-sentinel-5e7f0a:1b2c3d"
PROMPT = "Add a small red ribbon to the paper boat"
FAL_PATH = "/fal-ai/qwen-image-edit"


class FalServer(LoopbackServer):
    """fal's synchronous host: ``POST /fal-ai/<endpoint>`` answers the configured edit."""

    def _answer_for(self, method: str, path: str) -> _Answer:
        if method == "POST" and path == FAL_PATH:
            return self._edit
        return super()._answer_for(method, path)


def b64_answer(data: bytes) -> dict[str, Any]:
    return {"created": 1781075000, "data": [{"b64_json": base64.b64encode(data).decode()}]}


@pytest.fixture
def servers() -> Iterator[tuple[LoopbackServer, FalServer]]:
    """Two running servers, stopped side by side (each stop waits out a poll interval)."""
    running = (LoopbackServer(), FalServer())
    try:
        for server in running:
            server.__enter__()
        yield running
    finally:
        stops = [threading.Thread(target=server.stop) for server in running]
        for thread in stops:
            thread.start()
        for thread in stops:
            thread.join()


@pytest.fixture
def boat(tmp_path: Path) -> Path:
    path = tmp_path / "boat.png"
    path.write_bytes(make_image(32, 32))
    return path


@pytest.fixture
def run_imgedit(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``imgedit ARGS`` in ``tmp_path`` (where imgedit.toml is), with its own user folder."""
    xdg = tmp_path / "xdg-config"
    xdg.mkdir()

    def run(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COMETAPI_", "IMGEDIT_", "OPENAI_", "FAL_"))
            and "proxy" not in k.lower()
        }
        done = subprocess.run(
            [installed_imgedit(), *map(str, args)],
            env={**clean, "XDG_CONFIG_HOME": str(xdg), **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        for key in (COMET_KEY, OPENAI_KEY, FAL_KEY):
            assert key not in done.stdout + done.stderr
        return done

    return run


def add_line(path: Path, line: str) -> None:
    """Add ``line`` as the last line of the file (under ``[routes]``, the last table)."""
    before = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*before, line]) + "\n", encoding="utf-8")
    after = path.read_text(encoding="utf-8").splitlines()
    assert [x for x in after if x not in before] == [line]


def test_moving_gpt_image_2_to_another_instance_is_one_line(
    servers: tuple[LoopbackServer, FalServer],
    run_imgedit: Callable[..., subprocess.CompletedProcess[str]],
    boat: Path,
    tmp_path: Path,
) -> None:
    comet, openai = servers  # the second plays OpenAI here: it answers /v1/images/edits too
    from_comet, from_openai = make_image(color="red"), make_image(color="blue")
    comet.answer_edit(b64_answer(from_comet))
    openai.answer_edit(b64_answer(from_openai))
    config = tmp_path / "imgedit.toml"
    config.write_text(
        "[providers.openai]\n"
        'uses = "cometapi-gpt-image"\n'
        f'base_url = "{openai.base_url}"\n'
        'key_env = "OPENAI_API_KEY"\n'
        "\n"
        "[routes]\n",
        encoding="utf-8",
    )
    env = {
        "IMGEDIT_LOAD_PLUGINS": "cometapi-gpt-image,cometapi-qwen-image-edit",
        "COMETAPI_BASE_URL": comet.base_url,
        "COMETAPI_KEY": COMET_KEY,
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    first_out, second_out = tmp_path / "first.png", tmp_path / "second.png"

    first = run_imgedit("edit", boat, "-p", PROMPT, "-o", first_out, "--json", env=env)
    add_line(config, '"gpt-image-2" = "openai"')
    second = run_imgedit("edit", boat, "-p", PROMPT, "-o", second_out, "--json", env=env)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert json.loads(first.stdout)["provider"] == "cometapi-gpt-image"
    assert json.loads(second.stdout)["provider"] == "openai"
    assert first_out.read_bytes() == from_comet
    assert second_out.read_bytes() == from_openai

    [to_comet] = comet.requests
    [to_openai] = openai.requests
    for request, key in ((to_comet, COMET_KEY), (to_openai, OPENAI_KEY)):
        assert (request.method, request.path) == ("POST", "/v1/images/edits")
        assert request.headers["authorization"] == f"Bearer {key}"
        assert request.form_fields() == {"prompt": PROMPT, "model": "gpt-image-2"}
        [image] = request.files()
        assert (image.name, image.filename, image.data) == ("image", "boat.png", boat.read_bytes())


def test_moving_qwen_image_edit_to_fal_is_one_line(
    servers: tuple[LoopbackServer, LoopbackServer],
    run_imgedit: Callable[..., subprocess.CompletedProcess[str]],
    boat: Path,
    tmp_path: Path,
) -> None:
    comet, fal = servers
    from_fal = make_image(40, 24, color="purple")
    result_url = fal.serve_file("/files/edited.png", from_fal)
    fal.answer_edit(
        {
            "images": [{"url": result_url, "content_type": "image/png", "width": 40, "height": 24}],
            "seed": 1234,
            "has_nsfw_concepts": [False],
        }
    )
    config = tmp_path / "imgedit.toml"
    config.write_text("[routes]\n", encoding="utf-8")
    env = {
        "IMGEDIT_LOAD_PLUGINS": "cometapi-gpt-image,cometapi-qwen-image-edit,fal",
        "COMETAPI_BASE_URL": comet.base_url,
        "COMETAPI_KEY": COMET_KEY,
        "FAL_BASE_URL": fal.origin,
        "FAL_KEY": FAL_KEY,
    }
    out = tmp_path / "qwen.png"
    args = ("edit", boat, "-p", PROMPT, "-m", "qwen-image-edit", "-o", out)

    ambiguous = run_imgedit(*args, env=env)
    add_line(config, '"qwen-image-edit" = "fal"')
    routed = run_imgedit(*args, env=env)

    assert ambiguous.returncode == 2
    assert ambiguous.stdout == ""
    assert ambiguous.stderr == (
        "Error: model 'qwen-image-edit' is served by several providers: "
        "cometapi-qwen-image-edit, fal. Pick one with --provider NAME (Python: provider=NAME), "
        'or route it for good in imgedit.toml: [routes] "qwen-image-edit" = '
        '"cometapi-qwen-image-edit".\n'
    )

    assert routed.returncode == 0, routed.stderr
    assert routed.stdout == f"{out}\n"
    assert out.read_bytes() == from_fal
    assert comet.requests == []
    post, get = fal.requests
    assert (post.method, post.path) == ("POST", FAL_PATH)
    assert post.headers["authorization"] == f"Key {FAL_KEY}"
    assert post.content_type == "application/json"
    assert json.loads(post.body) == {
        "prompt": PROMPT,
        "image_url": "data:image/png;base64," + base64.b64encode(boat.read_bytes()).decode(),
    }
    assert (get.method, get.path) == ("GET", "/files/edited.png")
    assert "authorization" not in get.headers

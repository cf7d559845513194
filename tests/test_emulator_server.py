"""The emulator on a real socket: requests recorded, overlap proven, result files served by the
same server, connection-level faults, and the ``imgedit emulator`` command as a process."""

from __future__ import annotations

import base64
import io
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from imgedit_core import InvalidResponseError
from imgedit_core.cli.main import cli
from imgedit_core.emulator import Emulator, EmulatorServer
from imgedit_core.testing import make_image, make_mask
from imgedit_core.transport import Transport

pytestmark = pytest.mark.integration

KEY = "sk-loopback-emulator"


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer() as running:
        yield running


def edit(
    client: httpx.Client,
    server: EmulatorServer,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        f"{server.base_url}/images/edits",
        data=fields or {"model": "gpt-image-2", "prompt": "Add a red hat", "size": "1024x640"},
        files=[("image", ("boat.png", make_image(32, 32), "image/png"))],
        headers={"Authorization": f"Bearer {KEY}", **(headers or {})},
    )


def test_it_serves_and_records_on_a_real_socket(server: EmulatorServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    with httpx.Client() as client:
        response = edit(client, server)
    assert response.status_code == 200
    data = base64.b64decode(response.json()["data"][0]["b64_json"])
    assert Image.open(io.BytesIO(data)).size == (1024, 640)
    (record,) = server.requests
    assert (record.method, record.path, record.status, record.fault) == (
        "POST",
        "/v1/images/edits",
        200,
        None,
    )
    assert record.started < record.ended <= time.monotonic()


def test_concurrent_requests_overlap() -> None:
    """Four requests that each take 0.2 s finish together: the server is concurrent."""
    with EmulatorServer(Emulator(latency=0.2)) as server, httpx.Client() as client:
        url = f"{server.base_url}/images/edits"
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: client.post(url).status_code, range(4)))
        elapsed = time.monotonic() - started
        assert statuses == [401] * 4
        assert elapsed < 0.6
        assert server.emulator.log.peak_concurrency() == 4
        assert server.emulator.log.count("POST", "/v1/images/edits") == 4


def test_qwen_urls_point_at_the_same_server(server: EmulatorServer) -> None:
    with httpx.Client() as client:
        body = edit(client, server, {"model": "qwen-image-edit", "prompt": "Add a flag"}).json()
        url = body["data"][0]["url"]
        assert url.startswith(f"{server.origin}/v1/emulator/files/")
        download = client.get(url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(download.content)).size == (32, 32)
    assert [(r.method, r.status) for r in server.requests] == [("POST", 200), ("GET", 200)]


def test_reset_is_a_connection_reset_and_the_server_lives_on() -> None:
    with EmulatorServer(Emulator(faults=["reset"])) as server, httpx.Client() as client:
        with pytest.raises(httpx.ReadError):
            edit(client, server)
        assert client.post(f"{server.base_url}/images/edits").status_code == 401
        assert [r.status for r in server.requests] == [None, 401]
        assert server.requests[0].fault == "reset"


def test_early_close_leaves_the_body_incomplete() -> None:
    emulator = Emulator(faults=["early-close:at=50"])
    with EmulatorServer(emulator) as server, httpx.Client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            edit(client, server)
        assert server.requests[0].status == 200  # the status line and headers went out


def test_truncate_and_redirect_over_the_socket() -> None:
    emulator = Emulator(faults=["truncate:at=12", "redirect"])
    with EmulatorServer(emulator) as server, httpx.Client() as client:
        cut = edit(client, server)
        moved = edit(client, server)
    assert (cut.status_code, cut.content) == (200, b'{"created": ')
    assert (moved.status_code, moved.headers["location"]) == (301, "https://www.cometapi.com/")


def test_a_capped_download_of_an_oversized_file() -> None:
    emulator = Emulator(faults=["oversize:bytes=300000"])
    with EmulatorServer(emulator) as server, httpx.Client() as client:
        body = edit(client, server, {"model": "qwen-image-edit", "prompt": "Add a flag"}).json()
        transport = Transport(max_download_bytes=100_000)
        with pytest.raises(InvalidResponseError, match="larger than 100000 bytes"):
            transport.download(body["data"][0]["url"])
        transport.close()
        assert client.get(body["data"][0]["url"]).status_code == 200  # still serving


def test_stop_closes_the_port() -> None:
    server = EmulatorServer().start()
    url = server.base_url
    server.stop()
    server.stop()  # twice is fine
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{url}/images/edits")


# -- the command -------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMETAPI_", "IMGEDIT_"))}
    env.pop("IMGEDIT_DEBUG", None)
    return env


def start_command(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "imgedit_core", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 30)
    if not ready:
        process.kill()
        pytest.fail("imgedit emulator printed nothing within 30 s")
    first = process.stdout.readline().strip()
    assert first, process.stderr.read() if process.stderr else ""
    return process, first


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_the_command_prints_its_url_serves_and_stops(stop_signal: signal.Signals) -> None:
    process, base_url = start_command("--fault", "503", "--latency", "0.01")
    try:
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v1")
        assert int(base_url.split(":")[2].split("/")[0]) > 0
        with httpx.Client() as client:
            assert client.post(f"{base_url}/images/edits").status_code == 503
            assert client.post(f"{base_url}/images/edits").status_code == 401
    finally:
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert out == ""
    assert err.splitlines() == ["imgedit emulator: stopped after 2 requests."]


def test_the_command_refuses_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "imgedit_core", "emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            env=_env(),
            check=False,
        )
    assert done.returncode == 2  # a usage problem, like every other refusal before work starts
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "--port 0" in done.stderr


def test_the_command_refuses_a_bad_fault_spec_before_listening() -> None:
    done = CliRunner().invoke(cli, ["emulator", "--port", "0", "--fault", "50x"])
    assert done.exit_code == 2
    assert "--fault" in done.output
    assert "KIND[:NAME=VALUE,...][*COUNT]" in done.output


def test_imgedit_edit_runs_against_the_emulator(server: EmulatorServer, tmp_path: Path) -> None:
    """The installed CLI, as a user runs it, with a mask, against the loopback emulator."""
    image, mask = tmp_path / "boat.png", tmp_path / "mask.png"
    image.write_bytes(make_image(32, 32))
    mask.write_bytes(make_mask(32, 32))
    out = tmp_path / "boat-hat.png"
    env = _env() | {"COMETAPI_BASE_URL": server.base_url, "COMETAPI_KEY": KEY}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imgedit_core",
            "edit",
            str(image),
            "-p",
            "Add a red hat",
            "--mask",
            str(mask),
            "-m",
            "gpt-image-2",
            "--size",
            "1024x640",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (1024, 640)
    assert server.emulator.log.count("POST", "/v1/images/edits") == 1

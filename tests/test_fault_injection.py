"""Fault injection against a real HTTP server on 127.0.0.1: what a user sees when the far side
misbehaves. Each case counts the requests the server saw and lists the files left on disk.

Most cases run the installed ``imgedit`` command as a process, so retry waits are really slept:
server-suggested waits are kept small (``retry-after-ms``) except where the wait is the point.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FIXTURES
from faults import (
    PNG_SIGNATURE,
    Delay,
    FaultServer,
    Reset,
    Respond,
    StallUpload,
    Stream,
    Trickle,
    Truncated,
    answer,
    files_in,
    run_imgedit,
    start_imgedit,
    text,
)

from imgedit_core import (
    APIConnectionError,
    APITimeoutError,
    Client,
    InvalidResponseError,
    ServerError,
)
from imgedit_core.testing import make_image

pytestmark = pytest.mark.integration

KEY = "sk-fault-sentinel-5c2d8e1f9a"
PROMPT = "Add a small red ribbon to the paper boat"
PROVIDER = "cometapi-gpt-image"
RETRY_LINE = re.compile(
    r"^imgedit: (?P<reason>.+) from (?P<provider>[\w-]+); "
    r"retrying in (?P<wait>\d+\.\d) s \(retry (?P<n>\d+) of (?P<of>\d+)\)$"
)

Run = Callable[..., subprocess.CompletedProcess[str]]


def ok_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "gpt-image-2-ok.json").read_text())
    return body


OK_IMAGE = base64.b64decode(ok_body()["data"][0]["b64_json"])


def ok() -> Respond:
    return answer(ok_body())


def rate_limited(**headers: str) -> Respond:
    body = json.loads((FIXTURES / "error-rate-limit.json").read_text())
    return answer(body, 429, **headers)


def unavailable(**headers: str) -> Respond:
    body = {"error": {"message": "The server is overloaded", "type": "server_error"}}
    return answer(body, 503, **headers)


def retry_lines(stderr: str) -> list[re.Match[str]]:
    """The retry lines on stderr; every other line must be the final ``Error:`` line."""
    lines = stderr.splitlines()
    matches = [RETRY_LINE.match(line) for line in lines]
    for line, match in zip(lines, matches, strict=True):
        assert match or line.startswith("Error: "), f"unexpected stderr line: {line!r}"
    return [m for m in matches if m]


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.splitlines()
    assert lines, "no error was printed"
    assert lines[-1].startswith("Error: "), done.stderr
    assert sum(line.startswith("Error: ") for line in lines) == 1, done.stderr
    return lines[-1]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running
    assert not running.errors, running.errors[0]


@pytest.fixture
def imgedit(server: FaultServer, tmp_path: Path) -> Run:
    """Run ``imgedit ARGS`` in tmp_path against the server, with the sentinel key set."""

    def run(*args: object) -> subprocess.CompletedProcess[str]:
        done = run_imgedit(args, base_url=server.base_url, key=KEY, cwd=tmp_path)
        assert "Traceback" not in done.stderr, done.stderr
        assert KEY not in done.stdout + done.stderr
        return done

    return run


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out.png"


def assert_only_input(folder: Path) -> None:
    """The input is all there is: no output, no ``.out.png.XXXX.part`` temp file."""
    assert files_in(folder) == ["boat.png"]


def assert_written(folder: Path, out: Path, data: bytes = OK_IMAGE) -> None:
    assert files_in(folder) == sorted(["boat.png", out.name])
    assert out.read_bytes() == data


def assert_same_upload(server: FaultServer, png_path: Path) -> None:
    """Every attempt carried the whole request: same fields, same image bytes."""
    sent = server.edit_requests()
    for request in sent:
        assert request.form_fields() == sent[0].form_fields()
        [image] = request.files()
        assert image.data == png_path.read_bytes()


# -- broken connections ---------------------------------------------------------------------------


def test_reset_before_answering_is_retried_and_then_succeeds(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(Reset(), ok())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"
    assert len(server.edit_requests()) == 2
    assert_same_upload(server, png_path)
    [line] = retry_lines(done.stderr)
    assert line["reason"].startswith("connection to 127.0.0.1 failed")
    assert (line["provider"], line["n"], line["of"]) == (PROVIDER, "1", "2")
    assert 0.3 <= float(line["wait"]) <= 0.5  # 0.5 s minus up to 25 % jitter
    assert server.gaps()[0] >= 0.35
    assert_written(tmp_path, out)


def test_reset_every_time_fails_after_the_retries(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(Reset())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out, "--max-retries", "1")

    assert done.returncode == 5
    assert len(server.edit_requests()) == 2
    assert len(retry_lines(done.stderr)) == 1
    message = error_line(done)
    assert "connection to 127.0.0.1 failed" in message
    assert "after 2 attempts" in message
    assert done.stdout == ""
    assert_only_input(tmp_path)


def test_connection_refused_is_retried(png_path: Path, retry_waits: list[float]) -> None:
    with FaultServer() as gone:
        base_url = gone.base_url
    # Nothing listens there now: every attempt is refused before anything is uploaded.
    with Client(api_key=KEY, base_url=base_url) as client, pytest.raises(APIConnectionError) as e:
        client.edit(png_path, PROMPT)
    # Nothing listened, so no server counted them: the error and the recorded waits do.
    assert e.value.attempts == 3
    assert len(retry_waits) == 2
    assert "ConnectError" in str(e.value)
    assert "after 3 attempts" in str(e.value)
    assert files_in(png_path.parent) == ["boat.png"]


def test_upload_never_read_is_a_write_timeout_and_retried(
    server: FaultServer, tmp_path: Path, retry_waits: list[float]
) -> None:
    # Far bigger than the loopback socket buffers, so the upload blocks once they are full.
    big = PNG_SIGNATURE + bytes(48 * 1024 * 1024)
    server.script(StallUpload())

    started = time.monotonic()
    client = Client(api_key=KEY, base_url=server.base_url, timeout={"write": 0.3})
    with client, pytest.raises(APITimeoutError) as caught:
        client.edit(big, PROMPT, max_retries=1)

    assert caught.value.phase == "write"
    assert caught.value.attempts == 2
    assert "uploading" in str(caught.value)
    assert len(server.edit_requests()) == 2  # the headers of each attempt arrived
    assert len(retry_waits) == 1
    assert time.monotonic() - started < 10
    assert files_in(tmp_path) == []


# -- timeouts -------------------------------------------------------------------------------------


def test_answer_slower_than_the_read_timeout_is_not_retried(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(Delay(5, ok()))

    started = time.monotonic()
    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out, "--timeout", "read=0.5")
    elapsed = time.monotonic() - started

    assert done.returncode == 5
    assert len(server.edit_requests()) == 1  # it may have run upstream: never sent twice
    assert retry_lines(done.stderr) == []
    message = error_line(done)
    assert "no answer within the read timeout (waiting for the answer)" in message
    assert "raise the timeout" in message
    assert "attempts" not in message
    assert elapsed < 4
    assert_only_input(tmp_path)


def test_ctrl_c_while_waiting_exits_130_and_leaves_nothing(
    server: FaultServer, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(Delay(20, ok()))
    process = start_imgedit(
        ["edit", png_path, "-p", PROMPT, "-o", out], base_url=server.base_url, key=KEY, cwd=tmp_path
    )
    try:
        server.wait_for_requests(1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130
    assert stdout == ""
    assert stderr.startswith("Interrupted: stopped waiting")
    assert "may still be billed" in stderr
    assert "Traceback" not in stderr
    assert len(server.edit_requests()) == 1
    assert_only_input(tmp_path)


# -- the server says "try again" ------------------------------------------------------------------


def test_429_retry_after_is_waited_then_the_edit_succeeds(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(rate_limited(retry_after="1"), ok())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 0, done.stderr
    assert len(server.edit_requests()) == 2
    assert server.gaps()[0] >= 0.95  # the server's wait, not the 0.5 s backoff
    assert done.stderr == (
        f"imgedit: HTTP 429 rate_limit_exceeded from {PROVIDER}; retrying in 1.0 s (retry 1 of 2)\n"
    )
    assert_same_upload(server, png_path)
    assert_written(tmp_path, out)


def test_503_twice_then_success_takes_three_requests(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(unavailable(retry_after_ms="100"), unavailable(retry_after_ms="100"), ok())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"
    assert len(server.edit_requests()) == 3
    assert all(gap >= 0.09 for gap in server.gaps())
    lines = retry_lines(done.stderr)
    assert [(m["reason"], m["n"], m["of"]) for m in lines] == [
        ("HTTP 503", "1", "2"),
        ("HTTP 503", "2", "2"),
    ]
    assert_same_upload(server, png_path)
    assert_written(tmp_path, out)


def test_503_three_times_gives_up_after_3_attempts_with_backoff(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(unavailable())  # no retry-after: the client's own backoff applies

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 5
    assert done.stdout == ""
    assert len(server.edit_requests()) == 3
    first, second = server.gaps()
    assert 0.37 <= first < 0.9  # 0.5 s minus up to 25 % jitter
    assert 0.74 <= second < 1.5  # 1.0 s minus up to 25 % jitter
    waits = [float(m["wait"]) for m in retry_lines(done.stderr)]
    assert len(waits) == 2
    assert 0.3 <= waits[0] <= 0.5
    assert 0.7 <= waits[1] <= 1.0
    message = error_line(done)
    assert "The server is overloaded (HTTP 503), after 3 attempts" in message
    assert "try again later" in message
    assert_only_input(tmp_path)


def test_quiet_hides_the_retry_lines(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(unavailable(retry_after_ms="50"), ok())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out, "-q")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(server.edit_requests()) == 2
    assert_written(tmp_path, out)


def test_max_retries_0_sends_once(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(unavailable(retry_after_ms="10"))

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out, "--max-retries", "0")

    assert done.returncode == 5
    assert len(server.edit_requests()) == 1
    assert retry_lines(done.stderr) == []
    message = error_line(done)
    assert "HTTP 503" in message
    assert "attempts" not in message
    assert_only_input(tmp_path)


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (rate_limited(retry_after="121"), "121 s suggested"),
        (rate_limited(retry_after_ms="600000"), "600 s suggested"),
        (unavailable(retry_after="3600"), "HTTP 503"),
    ],
    ids=["429-retry-after-121s", "429-retry-after-ms-600s", "503-retry-after-1h"],
)
def test_a_requested_wait_over_120_s_is_not_retried(
    server: FaultServer,
    imgedit: Run,
    png_path: Path,
    out: Path,
    tmp_path: Path,
    fault: Respond,
    says: str,
) -> None:
    server.script(fault, ok())

    started = time.monotonic()
    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 5
    assert len(server.edit_requests()) == 1
    assert retry_lines(done.stderr) == []
    assert says in error_line(done)
    assert time.monotonic() - started < 5
    assert_only_input(tmp_path)


# -- answers that no retry can fix ----------------------------------------------------------------


def test_comet_500_invalid_request_is_sent_once(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    body = json.loads((FIXTURES / "error-comet-500-invalid-request.json").read_text())
    server.script(answer(body, 500), ok())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 4
    assert len(server.edit_requests()) == 1
    assert retry_lines(done.stderr) == []
    message = error_line(done)
    assert "invalid request (HTTP 500, code=invalid_request)" in message
    assert "try again" not in message.lower()
    assert_only_input(tmp_path)


def test_html_301_is_a_redirect_error_and_not_followed(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    elsewhere = server.serve("/v1/elsewhere/images/edits", ok())
    page = "<html><head><title>301 Moved Permanently</title></head><body>nginx</body></html>"
    server.script(text(301, page, location=elsewhere))

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 4
    assert len(server.requests) == 1  # the one POST: nothing went to the Location
    message = error_line(done)
    assert f"the server redirected (301) to {elsewhere} instead of answering" in message
    assert "Check the base URL" in message
    assert retry_lines(done.stderr) == []
    assert_only_input(tmp_path)


def test_body_cut_short_is_a_broken_connection_and_retried(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    # Content-Length promises the whole answer; half comes, then the connection closes. The
    # policy treats it as a connection broken mid-answer: retried (the edit may have run).
    full = answer(ok_body()).body
    server.script(Truncated(200, full[: len(full) // 2], claimed=len(full)))

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out, "--max-retries", "1")

    assert done.returncode == 5
    assert len(server.edit_requests()) == 2
    [line] = retry_lines(done.stderr)
    assert line["reason"].startswith("connection to 127.0.0.1 failed: RemoteProtocolError")
    message = error_line(done)
    assert "RemoteProtocolError" in message
    assert "after 2 attempts" in message
    assert_only_input(tmp_path)


def test_complete_but_truncated_json_is_invalid_and_not_retried(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    full = answer(ok_body()).body
    server.script(Respond(200, full[: len(full) // 2]), ok())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 4
    assert len(server.edit_requests()) == 1  # a 2xx answer was (probably) billed: not resent
    message = error_line(done)
    assert "expected JSON but got" in message
    assert "application/json" in message
    assert_only_input(tmp_path)


@pytest.mark.parametrize(
    ("b64", "says"),
    [
        ("iVBORw0KGgo!!!not-base64", "not valid base64"),
        (base64.b64encode(b"<html>not an image</html>").decode(), "does not decode to an image"),
    ],
    ids=["bad-base64", "not-an-image"],
)
def test_bad_base64_writes_nothing(
    server: FaultServer,
    imgedit: Run,
    png_path: Path,
    out: Path,
    tmp_path: Path,
    b64: str,
    says: str,
) -> None:
    server.script(answer({"created": 1, "data": [{"b64_json": b64}]}), ok())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 4
    assert len(server.edit_requests()) == 1
    assert says in error_line(done)
    assert_only_input(tmp_path)


def test_a_bad_second_image_leaves_no_partial_set(
    server: FaultServer, imgedit: Run, png_path: Path, tmp_path: Path
) -> None:
    good = base64.b64encode(OK_IMAGE).decode()
    server.script(answer({"created": 1, "data": [{"b64_json": good}, {"b64_json": "@@"}]}))

    done = imgedit("edit", png_path, "-p", PROMPT, "-n", "2", "-o", tmp_path / "set.png")

    assert done.returncode == 4
    assert len(server.edit_requests()) == 1
    assert "not valid base64" in error_line(done)
    assert_only_input(tmp_path)  # not set-1.png either


# -- URL outputs ----------------------------------------------------------------------------------


def qwen_answer(url: str) -> Respond:
    return answer({"created": 1, "data": [{"url": url}], "usage": {}})


def test_download_over_64_mb_is_refused_and_cut_off(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    total = 256 * 1024 * 1024
    url = server.serve("/files/huge.png", Stream(total))
    server.script(qwen_answer(url + "?Signature=s3cr3t"))

    done = imgedit("edit", png_path, "-p", PROMPT, "-m", "qwen-image-edit", "-o", out)

    assert done.returncode == 4
    assert len(server.edit_requests()) == 1
    assert len(server.gets()) == 1
    message = error_line(done)
    assert f"the image at {url} is larger than {64 * 1024 * 1024} bytes; not saved" in message
    assert "s3cr3t" not in done.stderr  # a signed URL's query is never printed
    assert server.sent("/files/huge.png") < total // 2  # the client hung up, it did not drain
    assert_only_input(tmp_path)


def test_download_limit_is_set_on_the_transport(server: FaultServer, tmp_path: Path) -> None:
    url = server.serve("/files/big.png", Stream(1024 * 1024, chunk=64 * 1024))
    server.script(qwen_answer(url))
    target = tmp_path / "out.png"

    with Client(api_key=KEY, base_url=server.base_url) as client:
        client.transport.max_download_bytes = 100_000
        result = client.edit(make_image(), PROMPT, model="qwen-image-edit")
        with pytest.raises(InvalidResponseError, match="larger than 100000 bytes"):
            result.images[0].save(target)

    assert len(server.edit_requests()) == 1
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (text(200, "<html><body>Access denied</body></html>"), "is not an image"),
        (text(403, "<html><body>Forbidden</body></html>"), "failed with HTTP 403"),
        (text(200, "", content_type="image/png"), "is not an image"),
    ],
    ids=["html-page", "403", "empty"],
)
def test_a_download_that_is_not_an_image_writes_nothing(
    server: FaultServer,
    imgedit: Run,
    png_path: Path,
    out: Path,
    tmp_path: Path,
    fault: Respond,
    says: str,
) -> None:
    url = server.serve("/files/result.png", fault)
    server.script(qwen_answer(url))

    done = imgedit("edit", png_path, "-p", PROMPT, "-m", "qwen-image-edit", "-o", out)

    assert done.returncode == 4
    assert len(server.edit_requests()) == 1
    assert len(server.gets()) == 1
    message = error_line(done)
    assert says in message
    assert url in message
    assert_only_input(tmp_path)


def test_a_stalled_download_times_out(
    server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imgedit_core.transport.DOWNLOAD_TIMEOUT", httpx.Timeout(0.3))
    url = server.serve("/files/slow.png", Delay(10, Respond(200, make_image(), "image/png")))
    server.script(qwen_answer(url))

    with Client(api_key=KEY, base_url=server.base_url) as client:
        result = client.edit(make_image(), PROMPT, model="qwen-image-edit")
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="timed out"):
            result.images[0].save(tmp_path / "out.png")
        assert time.monotonic() - started < 2

    assert (len(server.edit_requests()), len(server.gets())) == (1, 1)  # downloads: no retry
    assert files_in(tmp_path) == []


def test_a_trickled_download_is_still_bounded_in_time(
    server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imgedit_core.transport.DOWNLOAD_TIMEOUT", httpx.Timeout(0.2))
    body = make_image()[:24]  # a byte every 0.05 s: no read ever waits 0.2 s; 1.2 s in all
    url = server.serve("/files/trickle.png", Trickle(body, interval=0.05))
    server.script(qwen_answer(url))

    with Client(api_key=KEY, base_url=server.base_url) as client:
        result = client.edit(make_image(), PROMPT, model="qwen-image-edit")
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            result.images[0].save(tmp_path / "out.png")
        assert time.monotonic() - started < 0.8

    assert (len(server.edit_requests()), len(server.gets())) == (1, 1)
    assert files_in(tmp_path) == []


# -- outputs are checked before paying ----------------------------------------------------------


def test_an_existing_output_is_refused_before_sending(
    server: FaultServer, imgedit: Run, png_path: Path, out: Path, tmp_path: Path
) -> None:
    server.script(ok())
    out.write_bytes(b"keep me")

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 2
    assert "already exists" in error_line(done)
    assert server.requests == []
    assert out.read_bytes() == b"keep me"
    assert files_in(tmp_path) == ["boat.png", "out.png"]


def test_a_missing_output_folder_is_created(
    server: FaultServer, imgedit: Run, png_path: Path, tmp_path: Path
) -> None:
    server.script(ok())
    out = tmp_path / "new" / "deeper" / "out.png"

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", out)

    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == OK_IMAGE
    assert files_in(out.parent) == ["out.png"]


def test_an_output_folder_that_cannot_be_made_is_refused_before_sending(
    server: FaultServer, imgedit: Run, png_path: Path, tmp_path: Path
) -> None:
    server.script(ok())

    done = imgedit("edit", png_path, "-p", PROMPT, "-o", png_path / "out.png")

    assert done.returncode == 2
    assert "cannot create folder" in error_line(done)
    assert server.requests == []
    assert_only_input(tmp_path)


def test_python_api_gives_up_with_the_attempts_counted(
    server: FaultServer, retry_waits: list[float]
) -> None:
    server.script(unavailable(), unavailable(), unavailable())
    client = Client(api_key=KEY, base_url=server.base_url)
    with client, pytest.raises(ServerError) as caught:
        client.edit(make_image(), PROMPT)
    assert caught.value.status == 503
    assert caught.value.attempts == 3
    assert len(retry_waits) == 2
    assert len(server.edit_requests()) == 3

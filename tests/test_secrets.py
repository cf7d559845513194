"""The API key never shows: not on stdout, stderr, in log records or in an exception's text.

A sentinel key is set, and the CLI is driven through every failure it can meet, in-process with
click's CliRunner (route mocked by respx, log records captured at DEBUG, httpx's included) and as
a process against the loopback fault server. Servers here echo the key back wherever they can:
in error messages, HTML pages, redirect targets and bad JSON.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner, Result
from conftest import EDITS_URL
from faults import (
    Delay,
    FaultServer,
    Reset,
    Respond,
    answer,
    cli_env,
    files_in,
    fresh_imgedit_logging,
    imgedit_command,
    run_imgedit,
    text,
)

from imgedit_core import APIError, Client, ImgeditError
from imgedit_core.cli.main import cli
from imgedit_core.testing import make_image, make_mask

SENTINEL = "sk-SENTINEL-7d1e0c9b4a2f53"
PROMPT = "Add a hat"
OK = {"created": 1, "data": [{"b64_json": base64.b64encode(make_image()).decode()}]}


def echo(message: str = "Incorrect API key provided: {key}", **fields: Any) -> dict[str, Any]:
    """An error envelope whose message quotes the key, as OpenAI's 401 does."""
    return {
        "error": {
            "message": message.format(key=SENTINEL),
            "type": "invalid_request_error",
            "param": None,
            "code": None,
            **fields,
        }
    }


def assert_no_secret(*texts: str) -> None:
    for text_ in texts:
        assert SENTINEL not in text_, f"the key leaked: {text_!r}"


@pytest.fixture(autouse=True)
def sentinel_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COMETAPI_KEY", SENTINEL)
    return SENTINEL


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Recorder]:
    """Every log record at DEBUG: imgedit's, httpx's and httpcore's. Checked for the key after
    each test."""
    recorder = Recorder()
    root = logging.getLogger()
    with fresh_imgedit_logging():
        caplog.set_level(logging.DEBUG)  # restored by caplog afterwards
        root.addHandler(recorder)  # imgedit's records propagate here, the CLI's included
        try:
            yield recorder
        finally:
            root.removeHandler(recorder)
    for record, line in zip(recorder.records, recorder.lines, strict=True):
        assert_no_secret(line, record.getMessage(), repr(record.args), str(record.msg))


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert_no_secret(result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


# -- what the server answers, each echoing the key where it can ----------------------------------

ANSWERS: dict[str, Callable[[], httpx.Response | Exception]] = {
    "401-echo": lambda: httpx.Response(401, json=echo(code="invalid_api_key")),
    "403-echo": lambda: httpx.Response(403, json=echo("key {key} may not use this model")),
    "400-echo": lambda: httpx.Response(400, json=echo("bad request from {key}", param="image")),
    "404": lambda: httpx.Response(404, json=echo("no such model")),
    "429-echo": lambda: httpx.Response(
        429,
        json=echo("rate limit for {key}", code="rate_limit_exceeded"),
        headers={"retry-after-ms": "10"},
    ),
    "500-invalid-request": lambda: httpx.Response(
        500, json=echo("invalid request for {key}", code="invalid_request")
    ),
    "503-echo": lambda: httpx.Response(503, json=echo("overloaded, key {key}")),
    "502-html-echo": lambda: httpx.Response(
        502,
        text=f"<html>Authorization: Bearer {SENTINEL}</html>",
        headers={"content-type": "text/html"},
    ),
    "200-bad-json-echo": lambda: httpx.Response(200, text=f"oops {SENTINEL} oops"),
    "200-html": lambda: httpx.Response(200, text="<html>Sign in</html>"),
    "200-error-envelope-echo": lambda: httpx.Response(200, json=echo("quota of {key} is used up")),
    "200-bad-base64": lambda: httpx.Response(200, json={"data": [{"b64_json": "!!" + SENTINEL}]}),
    "301-location-echo": lambda: httpx.Response(
        301, headers={"location": f"https://login.example/?key={SENTINEL}"}
    ),
    "connect-error": lambda: httpx.ConnectError("[Errno 111] Connection refused"),
    "reset": lambda: httpx.ReadError("[Errno 104] Connection reset by peer"),
    "read-timeout": lambda: httpx.ReadTimeout("timed out"),
    "write-timeout": lambda: httpx.WriteTimeout("timed out"),
}


def mock_answer(router: respx.MockRouter, name: str) -> respx.Route:
    made = ANSWERS[name]()
    route = router.post(EDITS_URL)
    if isinstance(made, Exception):
        route.side_effect = made
    else:
        route.return_value = made
    return route


# == the CLI, in-process ==========================================================================


@pytest.mark.parametrize("name", list(ANSWERS))
@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]], ids=["default", "-v", "-vv"])
def test_cli_failures_never_print_the_key(
    router: respx.MockRouter,
    png_path: Path,
    tmp_path: Path,
    name: str,
    verbosity: list[str],
) -> None:
    route = mock_answer(router, name)

    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / "out.png", *verbosity)

    assert result.exit_code in (3, 4, 5), result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: ")
    assert route.calls[0].request.headers["authorization"] == f"Bearer {SENTINEL}"
    assert files_in(tmp_path) == ["boat.png"]


def test_retry_lines_never_print_the_key(
    router: respx.MockRouter, png_path: Path, logs: Recorder
) -> None:
    route = mock_answer(router, "429-echo")

    result = invoke("edit", png_path, "-p", PROMPT, "-vv")

    assert result.exit_code == 5
    assert route.call_count == 3
    assert result.stderr.count("retrying in") == 2
    assert [r.name for r in logs.records if "retrying" in r.getMessage()] == [
        "imgedit.transport",
        "imgedit.transport",
    ]
    assert any(r.name == "httpx" for r in logs.records)  # httpx's own log lines were on


@pytest.mark.parametrize(
    "args",
    [
        ["missing.png"],
        ["notes.txt"],
        ["boat.png", "--mask", "flat-mask.png"],
        ["boat.png", "--mask", "small-mask.png"],
        ["boat.png", "--mask", "mask.png", "-m", "qwen-image-edit"],
        ["boat.png", "-m", "qwen-image-edit", "-n", "2"],
        ["boat.png", "--size", "999x999"],
        ["boat.png", "--option", "watermark=false"],
        ["boat.png", "-m", "gpt-image-9"],
        ["boat.png", "--timeout", "read=soon"],
        ["boat.png", "-o", "boat.png"],
        ["boat.png", "-o", "out.gif"],
    ],
    ids=[
        "missing-file",
        "not-an-image",
        "mask-without-alpha",
        "mask-wrong-size",
        "capability-mask",
        "capability-n",
        "bad-size",
        "undeclared-option",
        "unknown-model",
        "bad-timeout",
        "output-exists",
        "unwritable-suffix",
    ],
)
def test_refusals_before_sending_never_print_the_key(
    router: respx.MockRouter,
    png_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    (tmp_path / "notes.txt").write_text(f"my key is {SENTINEL}\n")
    (tmp_path / "flat-mask.png").write_bytes(make_mask(32, 32, alpha=False))
    (tmp_path / "small-mask.png").write_bytes(make_mask(16, 16))
    (tmp_path / "mask.png").write_bytes(make_mask(32, 32))
    monkeypatch.chdir(tmp_path)
    route = router.post(EDITS_URL).respond(200, json=OK)

    result = invoke("edit", *args, "-p", PROMPT, "-vv")

    assert result.exit_code == 2, result.stderr
    assert route.call_count == 0


def test_dry_run_redacts_the_key(router: respx.MockRouter, png_path: Path) -> None:
    route = router.post(EDITS_URL).respond(200, json=OK)

    plain = invoke("edit", png_path, "-p", PROMPT, "--dry-run", "-vv")
    as_json = invoke("edit", png_path, "-p", PROMPT, "--dry-run", "--json", "-vv")

    assert plain.exit_code == as_json.exit_code == 0
    assert "authorization: <redacted>" in plain.stdout.splitlines()
    assert '"authorization": "<redacted>"' in as_json.stdout
    assert route.call_count == 0


def test_a_successful_json_run_never_prints_the_key(
    router: respx.MockRouter, png_path: Path, tmp_path: Path
) -> None:
    route = router.post(EDITS_URL).respond(200, json=OK)

    result = invoke("edit", png_path, "-p", PROMPT, "--json", "-vv", "-o", tmp_path / "r.png")

    assert result.exit_code == 0, result.stderr
    assert route.call_count == 1
    assert (tmp_path / "r.png").exists()


def test_the_key_goes_to_the_api_host_only(
    router: respx.MockRouter, png_path: Path, tmp_path: Path
) -> None:
    """A URL output is downloaded from another host: without the key."""
    body = {"created": 1, "data": [{"url": "https://cdn.example/r.png?Signature=abc"}]}
    edit = router.post(EDITS_URL).respond(200, json=body)
    download = router.get(url__startswith="https://cdn.example/").respond(
        200, content=make_image(), headers={"content-type": "image/png"}
    )

    result = invoke("edit", png_path, "-p", PROMPT, "-m", "qwen-image-edit", "--json", "-vv")

    assert result.exit_code == 0, result.stderr
    assert edit.calls[0].request.headers["authorization"] == f"Bearer {SENTINEL}"
    [get] = download.calls
    assert "authorization" not in get.request.headers
    assert SENTINEL not in str(get.request.url)


# == the Python API ===============================================================================


@pytest.mark.parametrize("name", list(ANSWERS))
def test_python_errors_never_hold_the_key(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv("COMETAPI_KEY")  # given to the client, not from the environment
    route = mock_answer(router, name)

    with Client(api_key=SENTINEL) as client, pytest.raises(APIError) as caught:
        client.edit(make_image(), PROMPT).images[0].data  # noqa: B018 (decodes)

    error = caught.value
    assert route.calls[0].request.headers["authorization"] == f"Bearer {SENTINEL}"
    assert_no_secret(
        str(error),
        repr(error),
        repr(error.args),
        error.message,
        "".join(traceback.format_exception(error)),
    )


@pytest.mark.integration
def test_python_api_over_a_real_socket_logs_nothing_secret(
    server: FaultServer, logs: Recorder, retry_waits: list[float]
) -> None:
    """httpcore's DEBUG records (connection, headers sent, headers received) included."""
    server.script(
        answer(echo("slow down, {key}"), 429, retry_after_ms="10"),
        answer(echo(code="invalid_api_key"), 401),
    )
    client = Client(api_key=SENTINEL, base_url=server.base_url)
    with client, pytest.raises(ImgeditError) as caught:
        client.edit(make_image(), PROMPT)

    assert caught.value.attempts == 2
    assert_no_secret(str(caught.value), repr(caught.value.args))
    assert len(server.edit_requests()) == 2
    assert any(r.name.startswith("httpcore") for r in logs.records)
    assert any(r.name == "imgedit.transport" for r in logs.records)


def test_python_reprs_never_hold_the_key(router: respx.MockRouter) -> None:
    with Client(api_key=SENTINEL) as client:
        prepared = client.prepare(make_image(), PROMPT)
        assert prepared.http_request.headers["authorization"] == f"Bearer {SENTINEL}"
        assert_no_secret(repr(client), repr(prepared), repr(prepared.settings), str(prepared))


@pytest.mark.parametrize("field", ["code", "param"])
def test_a_key_echoed_in_code_or_param_is_masked(router: respx.MockRouter, field: str) -> None:
    router.post(EDITS_URL).respond(401, json=echo("bad key", **{field: SENTINEL}))
    with Client(api_key=SENTINEL) as client, pytest.raises(ImgeditError) as caught:
        client.edit(make_image(), PROMPT)
    assert_no_secret(str(caught.value), repr(caught.value.args))


# == the CLI as a process, against a real server ==================================================


SERVER_FAULTS: dict[str, Callable[[], Respond | Reset | Delay]] = {
    "401-echo": lambda: answer(echo(code="invalid_api_key"), 401),
    "400-echo": lambda: answer(echo("bad request from {key}"), 400),
    "429-echo-retried": lambda: answer(echo("slow down, {key}"), 429, retry_after_ms="10"),
    "503-echo-retried": lambda: answer(echo("overloaded, {key}"), 503, retry_after_ms="10"),
    "502-html-echo": lambda: text(502, f"<html>Authorization: Bearer {SENTINEL}</html>"),
    "200-bad-json-echo": lambda: text(200, f"oops {SENTINEL}", content_type="application/json"),
    "301-location-echo": lambda: text(
        301, "<html>moved</html>", location=f"https://login.example/?key={SENTINEL}"
    ),
    "reset": Reset,
    "read-timeout": lambda: Delay(5, answer(OK)),
}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def run(server: FaultServer, cwd: Path, *args: object, key: str | None = SENTINEL) -> Any:
    done = run_imgedit(
        args, base_url=server.base_url, key=key, cwd=cwd, IMGEDIT_DEBUG="1", timeout=30
    )
    assert_no_secret(done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


@pytest.mark.integration
@pytest.mark.parametrize("name", list(SERVER_FAULTS))
def test_the_cli_process_never_prints_the_key(
    server: FaultServer, png_path: Path, tmp_path: Path, name: str
) -> None:
    server.script(SERVER_FAULTS[name]())

    done = run(
        server,
        tmp_path,
        "edit",
        png_path,
        "-p",
        PROMPT,
        "-vv",
        "--max-retries",
        "1",
        "--timeout",
        "read=0.5",
    )

    assert done.returncode in (3, 4, 5), done.stderr
    assert done.stderr.splitlines()[-1].startswith("Error: ")
    seen = server.edit_requests()
    assert seen
    assert all(r.headers["authorization"] == f"Bearer {SENTINEL}" for r in seen)
    assert files_in(tmp_path) == ["boat.png"]


@pytest.mark.integration
def test_the_cli_process_success_dry_run_and_api_key_flag(
    server: FaultServer, png_path: Path, tmp_path: Path
) -> None:
    server.script(answer(OK))

    dry = run(server, tmp_path, "edit", png_path, "-p", PROMPT, "--dry-run", "-vv")
    dry_json = run(server, tmp_path, "edit", png_path, "-p", PROMPT, "--dry-run", "--json")
    assert dry.returncode == dry_json.returncode == 0
    assert server.requests == []

    done = run(server, tmp_path, "edit", png_path, "-p", PROMPT, "--json", "-vv", "-o", "a.png")
    assert done.returncode == 0, done.stderr

    # --api-key: the key is not in the environment, so only imgedit itself knows to hide it.
    server.script(answer(echo(code="invalid_api_key"), 401))
    flag = run(server, tmp_path, "edit", png_path, "-p", PROMPT, "--api-key", SENTINEL, key=None)
    assert flag.returncode == 3
    assert server.requests[-1].headers["authorization"] == f"Bearer {SENTINEL}"


@pytest.mark.integration
def test_a_stored_key_echoed_in_code_and_param_is_not_printed(
    server: FaultServer, png_path: Path, tmp_path: Path
) -> None:
    stored = subprocess.run(
        [*imgedit_command(), "keys", "set", "COMETAPI_KEY"],
        input=SENTINEL + "\n",
        env=cli_env(server.base_url, None),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert_no_secret(stored.stdout, stored.stderr)
    server.script(answer(echo(code=SENTINEL, param=SENTINEL), 401))

    done = run(server, tmp_path, "edit", png_path, "-p", PROMPT, key=None)

    assert done.returncode == 3
    assert server.requests[-1].headers["authorization"] == f"Bearer {SENTINEL}"

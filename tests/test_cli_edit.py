"""``imgedit edit`` end to end through click, with the CometAPI route mocked by respx.

Every invocation goes through :func:`invoke`, which also checks what a user must never see: the
API key, or a traceback.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from click.testing import CliRunner, Result
from conftest import EDITS_URL, TEST_KEY

from imgedit_core.cli.main import cli
from imgedit_core.testing import make_image
from imgedit_core.wire import WireRequest, decode_request

QWEN_URL_PREFIX = "https://dashscope-result.example/"
PROMPT = "Add a small red ribbon to the paper boat"


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    for text in (result.stdout, result.stderr):
        assert TEST_KEY not in text, "the API key was printed"
        assert "Traceback" not in text
    # click's runner catches everything: anything but a deliberate exit is a crash.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def assert_one_error_line(result: Result) -> str:
    """The error is the last stderr line and the only one saying Error; earlier lines are
    the retries as they happened."""
    lines = result.stderr.splitlines()
    assert lines, result.stderr
    assert lines[-1].startswith("Error: "), result.stderr
    assert all(line.startswith("imgedit: ") for line in lines[:-1]), result.stderr
    return lines[-1]


def b64_images(body: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(item["b64_json"]) for item in body["data"]]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def answer(
    router: respx.MockRouter, load_fixture: Callable[[str], Any]
) -> Callable[..., respx.Route]:
    """Make the edits route answer with a fixture body (or a dict) and a status."""

    def set_answer(body: str | dict[str, Any], status: int = 200, **kw: Any) -> respx.Route:
        content = load_fixture(body) if isinstance(body, str) else body
        return router.post(EDITS_URL).respond(status, json=content, **kw)

    return set_answer


@pytest.fixture
def gpt_ok(answer: Callable[..., respx.Route]) -> respx.Route:
    return answer("gpt-image-2-ok.json")


@pytest.fixture
def qwen_ok(
    answer: Callable[..., respx.Route], router: respx.MockRouter
) -> tuple[respx.Route, respx.Route, bytes]:
    """The qwen answer (a URL) and the file behind that URL."""
    served = make_image(24, 24, color="red")
    edit = answer("qwen-image-edit-ok.json")
    download = router.get(url__startswith=QWEN_URL_PREFIX).respond(
        200, content=served, headers={"content-type": "image/png"}
    )
    return edit, download, served


def sent(route: respx.Route, index: int = 0) -> WireRequest:
    return decode_request(route.calls[index].request)


# --- success --------------------------------------------------------------------------------


@pytest.mark.usefixtures("api_key")
def test_writes_decoded_image_and_prints_its_path(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route, load_fixture: Callable[[str], Any]
) -> None:
    out = tmp_path / "result.png"
    result = invoke("edit", png_path, "-p", PROMPT, "-o", out)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    assert out.read_bytes() == b64_images(load_fixture("gpt-image-2-ok.json"))[0]

    assert gpt_ok.call_count == 1
    request = gpt_ok.calls[0].request
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    wire = decode_request(request)
    assert wire.field("prompt") == PROMPT
    assert wire.field("model") == "gpt-image-2"
    assert "response_format" not in wire.fields
    [part] = wire.files_named("image")
    assert (part.filename, part.content_type) == ("boat.png", "image/png")
    assert part.data == png_path.read_bytes()


@pytest.mark.usefixtures("api_key", "gpt_ok")
def test_default_output_is_input_stem_edited_beside_the_input(
    png_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = invoke("edit", png_path, "-p", PROMPT)

    expected = png_path.parent / "boat-edited.png"
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{expected}\n"
    assert expected.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(elsewhere.iterdir()) == []


@pytest.mark.usefixtures("api_key")
def test_jpg_output_name_asks_for_jpeg(png_path: Path, tmp_path: Path, gpt_ok: respx.Route) -> None:
    out = tmp_path / "x.jpg"
    result = invoke("edit", png_path, "-p", PROMPT, "-o", out)

    assert result.exit_code == 0, result.stderr
    assert sent(gpt_ok).field("output_format") == "jpeg"
    assert out.exists()


@pytest.mark.usefixtures("api_key")
def test_png_suffix_sends_no_output_format(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route
) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / "x.png")

    assert result.exit_code == 0, result.stderr
    assert set(sent(gpt_ok).fields) == {"prompt", "model"}


@pytest.mark.usefixtures("api_key")
def test_output_format_contradicting_the_name_is_refused(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route
) -> None:
    out = tmp_path / "x.jpg"
    result = invoke("edit", png_path, "-p", PROMPT, "--output-format", "png", "-o", out)

    assert result.exit_code == 2
    message = assert_one_error_line(result)
    assert "png" in message
    assert "x.jpg" in message
    assert gpt_ok.call_count == 0
    assert not out.exists()


@pytest.mark.usefixtures("api_key")
def test_n2_writes_numbered_files(
    png_path: Path,
    tmp_path: Path,
    answer: Callable[..., respx.Route],
    load_fixture: Callable[[str], Any],
) -> None:
    route = answer("gpt-image-n2-ok.json")
    result = invoke("edit", png_path, "-p", PROMPT, "-n", "2", "-o", tmp_path / "out.png")

    first, second = tmp_path / "out-1.png", tmp_path / "out-2.png"
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [str(first), str(second)]
    expected = b64_images(load_fixture("gpt-image-n2-ok.json"))
    assert [first.read_bytes(), second.read_bytes()] == expected
    assert not (tmp_path / "out.png").exists()
    assert sent(route).field("n") == "2"


@pytest.mark.usefixtures("api_key")
def test_index_field_in_output_name(
    png_path: Path, tmp_path: Path, answer: Callable[..., respx.Route]
) -> None:
    answer("gpt-image-n2-ok.json")
    result = invoke("edit", png_path, "-p", PROMPT, "-n", "2", "-o", tmp_path / "shot{index}.png")

    expected = [tmp_path / "shot1.png", tmp_path / "shot2.png"]
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [str(p) for p in expected]
    assert all(p.exists() for p in expected)
    assert not list(tmp_path.glob("*{index}*"))


@pytest.mark.usefixtures("api_key")
def test_existing_output_is_refused_before_sending(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route
) -> None:
    out = tmp_path / "result.png"
    out.write_bytes(b"precious")

    result = invoke("edit", png_path, "-p", PROMPT, "-o", out)

    assert result.exit_code == 2
    message = assert_one_error_line(result)
    assert str(out) in message
    assert "--force" in message
    assert gpt_ok.call_count == 0
    assert out.read_bytes() == b"precious"


@pytest.mark.usefixtures("api_key")
def test_any_existing_numbered_output_is_refused_before_sending(
    png_path: Path, tmp_path: Path, answer: Callable[..., respx.Route]
) -> None:
    route = answer("gpt-image-n2-ok.json")
    (tmp_path / "out-2.png").write_bytes(b"precious")

    result = invoke("edit", png_path, "-p", PROMPT, "-n", "2", "-o", tmp_path / "out.png")

    assert result.exit_code == 2
    assert "out-2.png" in assert_one_error_line(result)
    assert route.call_count == 0
    assert not (tmp_path / "out-1.png").exists()
    assert (tmp_path / "out-2.png").read_bytes() == b"precious"


@pytest.mark.usefixtures("api_key")
def test_force_overwrites(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route, load_fixture: Callable[[str], Any]
) -> None:
    out = tmp_path / "result.png"
    out.write_bytes(b"old")

    result = invoke("edit", png_path, "-p", PROMPT, "-o", out, "--force")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    assert out.read_bytes() == b64_images(load_fixture("gpt-image-2-ok.json"))[0]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.usefixtures("api_key", "gpt_ok")
def test_json_summary(png_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.png"
    result = invoke("edit", png_path, "-p", PROMPT, "-o", out, "--json")

    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["paths"] == [str(out)]
    assert summary["model"] == "gpt-image-2"
    assert summary["provider"] == "cometapi-gpt-image"
    assert summary["size"] == "1024x1024"
    assert summary["output_format"] == "png"
    usage = summary["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (784, 196, 980)
    assert out.exists()


@pytest.mark.usefixtures("api_key")
def test_qwen_downloads_the_url_answer(
    png_path: Path, tmp_path: Path, qwen_ok: tuple[respx.Route, respx.Route, bytes]
) -> None:
    edit, download, served = qwen_ok
    out = tmp_path / "q.png"

    result = invoke("edit", png_path, "-p", PROMPT, "--model", "qwen-image-edit", "-o", out)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    assert out.read_bytes() == served
    wire = sent(edit)
    assert wire.field("model") == "qwen-image-edit"
    assert "response_format" not in wire.fields
    assert download.call_count == 1
    # The result lives on another host: the CometAPI key must not travel there.
    assert "authorization" not in download.calls[0].request.headers


@pytest.mark.usefixtures("api_key")
def test_qwen_refuses_a_mask_before_sending(
    png_path: Path, mask_path: Path, tmp_path: Path, qwen_ok: tuple[respx.Route, respx.Route, bytes]
) -> None:
    edit, _, _ = qwen_ok
    result = invoke(
        "edit", png_path, "-p", PROMPT, "-m", "qwen-image-edit", "--mask", mask_path, "-o",
        tmp_path / "q.png",
    )  # fmt: skip

    assert result.exit_code == 2
    message = assert_one_error_line(result)
    assert "qwen-image-edit" in message
    assert "mask" in message
    assert edit.call_count == 0
    assert not (tmp_path / "q.png").exists()


@pytest.mark.usefixtures("api_key")
def test_qwen_provider_option_is_sent_as_a_form_field(
    png_path: Path, tmp_path: Path, qwen_ok: tuple[respx.Route, respx.Route, bytes]
) -> None:
    edit, _, _ = qwen_ok
    result = invoke(
        "edit", png_path, "-p", PROMPT, "-m", "qwen-image-edit", "--option", "watermark=false",
        "-o", tmp_path / "q.png",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert sent(edit).field("watermark") == "false"


@pytest.mark.usefixtures("api_key")
def test_imgedit_model_env_changes_the_default_model(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMGEDIT_MODEL", "gpt-image-1-mini")
    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / "a.png")
    assert result.exit_code == 0, result.stderr
    assert sent(gpt_ok).field("model") == "gpt-image-1-mini"

    result = invoke("edit", png_path, "-p", PROMPT, "-m", "gpt-image-1", "-o", tmp_path / "b.png")
    assert result.exit_code == 0, result.stderr
    assert sent(gpt_ok, 1).field("model") == "gpt-image-1"


# --- refusals and failures ------------------------------------------------------------------


def test_missing_key_names_the_variable(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route
) -> None:
    out = tmp_path / "result.png"
    result = invoke("edit", png_path, "-p", PROMPT, "-o", out)

    assert result.exit_code == 2
    assert "COMETAPI_KEY" in assert_one_error_line(result)
    assert gpt_ok.call_count == 0
    assert not out.exists()


@pytest.mark.usefixtures("api_key")
def test_unknown_model_suggests_the_close_one(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route
) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "-m", "gpt-image2", "-o", tmp_path / "r.png")

    assert result.exit_code == 2
    message = assert_one_error_line(result)
    assert "'gpt-image2'" in message
    assert re.search(r"did you mean\W+gpt-image-2\b", message, re.IGNORECASE), message
    assert gpt_ok.call_count == 0


SERVER_ERROR = {"error": {"message": "The server had an error", "type": "server_error"}}
AUTH_ERROR = {
    "error": {
        "message": "Incorrect API key provided",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


@pytest.mark.usefixtures("api_key")
@pytest.mark.parametrize(
    ("status", "body", "exit_code", "says", "sent"),
    [
        (400, "error-unknown-parameter.json", 4, "Unknown parameter: 'response_format'", 1),
        (401, AUTH_ERROR, 3, "Incorrect API key provided", 1),
        (429, "error-rate-limit.json", 5, "Rate limit reached", 3),
        (500, SERVER_ERROR, 5, "The server had an error", 3),
    ],
    ids=["400-unknown-parameter", "401", "429", "500"],
)
def test_api_errors_are_one_line_and_write_nothing(
    png_path: Path,
    tmp_path: Path,
    answer: Callable[..., respx.Route],
    status: int,
    body: str | dict[str, Any],
    exit_code: int,
    says: str,
    sent: int,
) -> None:
    route = answer(body, status)
    out = tmp_path / "result.png"

    result = invoke("edit", png_path, "-p", PROMPT, "-o", out)

    assert result.exit_code == exit_code
    message = assert_one_error_line(result)
    assert says in message
    assert f"HTTP {status}" in message
    assert result.stdout == ""
    assert route.call_count == sent
    assert result.stderr.count("retrying in") == sent - 1
    if sent > 1:
        assert f"after {sent} attempts" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boat.png"]


@pytest.mark.usefixtures("api_key")
def test_a_server_echoing_the_key_does_not_get_it_printed(
    png_path: Path, tmp_path: Path, answer: Callable[..., respx.Route]
) -> None:
    answer({"error": {"message": f"Incorrect API key provided: {TEST_KEY}.", "code": ""}}, 401)

    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / "r.png")  # checks the key

    assert result.exit_code == 3
    assert "Incorrect API key provided" in assert_one_error_line(result)


@pytest.mark.usefixtures("api_key")
def test_comet_500_invalid_request_does_not_advise_retrying(
    png_path: Path, tmp_path: Path, answer: Callable[..., respx.Route]
) -> None:
    answer("error-comet-500-invalid-request.json", 500)

    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / "r.png")

    assert result.exit_code != 0
    message = assert_one_error_line(result)
    assert "invalid request" in message
    assert "try again" not in message.lower()


# --- where results go -----------------------------------------------------------------------


@pytest.mark.usefixtures("api_key", "gpt_ok")
def test_output_folder_gets_the_default_name(png_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    result = invoke("edit", png_path, "-p", PROMPT, "-o", f"{folder}/")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{folder / 'boat-edited.png'}\n"
    assert (folder / "boat-edited.png").is_file()


@pytest.mark.usefixtures("api_key")
def test_dash_writes_the_image_to_stdout(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route, load_fixture: Callable[[str], Any]
) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "-o", "-")

    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == b64_images(load_fixture("gpt-image-2-ok.json"))[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boat.png"]
    assert set(sent(gpt_ok).fields) == {"prompt", "model"}


@pytest.mark.usefixtures("api_key")
def test_dash_with_json_is_refused_before_sending(png_path: Path, gpt_ok: respx.Route) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "-o", "-", "--json")

    assert result.exit_code == 2
    assert "--json" in assert_one_error_line(result)
    assert gpt_ok.call_count == 0


@pytest.mark.usefixtures("api_key")
def test_a_bad_image_in_the_answer_leaves_no_partial_set(
    png_path: Path,
    tmp_path: Path,
    answer: Callable[..., respx.Route],
    load_fixture: Callable[[str], Any],
) -> None:
    body = load_fixture("gpt-image-n2-ok.json")
    body["data"][1]["b64_json"] = "not base64!!"
    answer(body)

    result = invoke("edit", png_path, "-p", PROMPT, "-n", "2", "-o", tmp_path / "out.png")

    assert result.exit_code == 4
    assert "b64_json" in assert_one_error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boat.png"]


# --- more refusals before sending -----------------------------------------------------------


@pytest.mark.usefixtures("api_key")
def test_qwen_cannot_make_the_jpeg_the_name_asks_for(
    png_path: Path, tmp_path: Path, qwen_ok: tuple[respx.Route, respx.Route, bytes]
) -> None:
    edit, _, _ = qwen_ok
    result = invoke(
        "edit", png_path, "-p", PROMPT, "-m", "qwen-image-edit", "-o", tmp_path / "x.jpg"
    )

    assert result.exit_code == 2
    assert "qwen-image-edit" in assert_one_error_line(result)
    assert edit.call_count == 0


@pytest.mark.usefixtures("api_key")
def test_an_undeclared_provider_option_is_refused_not_dropped(
    png_path: Path, tmp_path: Path, qwen_ok: tuple[respx.Route, respx.Route, bytes]
) -> None:
    edit, _, _ = qwen_ok
    result = invoke(
        "edit", png_path, "-p", PROMPT, "-m", "qwen-image-edit", "--option", "seed=42",
        "-o", tmp_path / "q.png",
    )  # fmt: skip

    assert result.exit_code == 2
    message = assert_one_error_line(result)
    assert "seed" in message
    assert "watermark" in message  # what it does accept
    assert edit.call_count == 0


@pytest.mark.usefixtures("api_key")
def test_option_without_a_value_is_a_usage_error(png_path: Path, gpt_ok: respx.Route) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "--option", "watermark")

    assert result.exit_code == 2
    assert "--option" in result.stderr
    assert gpt_ok.call_count == 0


# --- answers that are not edits -------------------------------------------------------------


@pytest.mark.usefixtures("api_key")
def test_a_gateway_html_page_is_one_line(
    png_path: Path, tmp_path: Path, router: respx.MockRouter
) -> None:
    page = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"
    router.post(EDITS_URL).respond(502, text=page, headers={"content-type": "text/html"})

    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / "r.png")

    assert result.exit_code == 5
    assert "HTTP 502" in assert_one_error_line(result)
    assert not (tmp_path / "r.png").exists()


@pytest.mark.usefixtures("api_key")
def test_a_redirect_is_not_followed_and_points_at_the_base_url(
    png_path: Path, tmp_path: Path, router: respx.MockRouter
) -> None:
    route = router.post(EDITS_URL).respond(301, headers={"location": f"{EDITS_URL}/"})

    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / "r.png")

    assert result.exit_code == 4
    assert "base URL" in assert_one_error_line(result)
    assert route.call_count == 1
    assert not (tmp_path / "r.png").exists()


@pytest.mark.usefixtures("api_key")
def test_rate_limit_message_carries_the_suggested_wait(
    png_path: Path, tmp_path: Path, answer: Callable[..., respx.Route]
) -> None:
    answer("error-rate-limit.json", 429, headers={"retry-after-ms": "1500"})

    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / "r.png", "--max-retries", "0")

    assert result.exit_code == 5
    assert "1.5 s" in assert_one_error_line(result)


@pytest.mark.usefixtures("api_key")
def test_fewer_images_than_asked_are_still_saved_without_clobbering(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route, load_fixture: Callable[[str], Any]
) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")  # not one of the planned names out-1.png, out-2.png

    result = invoke("edit", png_path, "-p", PROMPT, "-n", "2", "-o", out)  # one image comes back

    assert gpt_ok.call_count == 1
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() == b"precious"
    [written] = [Path(line) for line in result.stdout.splitlines()]
    assert written.read_bytes() == b64_images(load_fixture("gpt-image-2-ok.json"))[0]


@pytest.mark.usefixtures("api_key")
def test_dash_refuses_to_print_image_bytes_on_a_terminal(
    png_path: Path, gpt_ok: respx.Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imgedit_core.cli.edit._stdout_is_terminal", lambda: True)

    result = invoke("edit", png_path, "-p", PROMPT, "-o", "-")

    assert result.exit_code == 2
    assert "terminal" in assert_one_error_line(result)
    assert gpt_ok.call_count == 0


@pytest.mark.usefixtures("api_key")
@pytest.mark.parametrize("timeout", ["0", "-5", "soon"])
def test_timeout_must_be_a_positive_number(
    png_path: Path, gpt_ok: respx.Route, timeout: str
) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "--timeout", timeout)

    assert result.exit_code == 2
    assert "timeout" in assert_one_error_line(result)
    assert gpt_ok.call_count == 0


@pytest.mark.usefixtures("api_key")
@pytest.mark.parametrize("name", ["out.gif", "out.TIFF", "out.bmp"])
def test_an_output_type_imgedit_cannot_write_is_refused_before_sending(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route, name: str
) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "-o", tmp_path / name)

    assert result.exit_code == 2
    assert ".png, .jpg or .webp" in assert_one_error_line(result)
    assert gpt_ok.call_count == 0
    assert not (tmp_path / name).exists()


@pytest.mark.usefixtures("api_key")
def test_timeout_flag_reaches_the_request(
    png_path: Path, tmp_path: Path, gpt_ok: respx.Route
) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "--timeout", "42", "-o", tmp_path / "t.png")

    assert result.exit_code == 0, result.stderr
    assert gpt_ok.calls[0].request.extensions["timeout"]["read"] == 42.0

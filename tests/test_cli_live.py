"""The live line on stderr: the spinner of ``imgedit edit`` and the progress of a batch.

What a person sees is checked through a small model of a terminal (``screen``): carriage
return, erase-to-end-of-line and newline are applied to the bytes written, so "the line was
cleared" and "no log line glued to a frame" are asserted on what would be on screen. Once, the
real thing: the installed CLI on a pseudo-terminal.
"""

from __future__ import annotations

import io
import logging
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import installed_imgedit

from imgedit_core.cli import live
from imgedit_core.cli.live import BatchProgress, Spinner, duration, live_enabled
from imgedit_core.cli.logs import setup_logging
from imgedit_core.cli.main import cli

PROMPT = "Add a small red ribbon to the paper boat"
CLEAR = "\r\x1b[K"
FRAME = re.compile(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] editing with gpt-image-2 via cometapi-gpt-image")


class FakeTTY(io.StringIO):
    """A stream that says it is a terminal, with the encoding a terminal would have."""

    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__()
        self._encoding = encoding

    def isatty(self) -> bool:
        if self.closed:  # as a real file does
            raise ValueError("I/O operation on closed file")
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def screen(raw: str) -> list[str]:
    """The lines a terminal shows after ``raw``: \\r goes to column 0, ESC[K erases to the end
    of the line, \\n starts a new one. Any other escape sequence fails the test."""
    lines = [""]
    col = 0
    i = 0
    while i < len(raw):
        if raw.startswith("\x1b[K", i):
            lines[-1] = lines[-1][:col]
            i += 3
            continue
        ch = raw[i]
        assert ch != "\x1b", f"unexpected escape sequence at {i}: {raw[i : i + 8]!r}"
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("")
            col = 0
        else:
            line = lines[-1]
            lines[-1] = line[:col] + ch + line[col + 1 :]
            col += 1
        i += 1
    return lines


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until ``condition`` holds; the assertion is the condition, not the wait."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture(autouse=True)
def terminal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv(live.NO_PROGRESS_ENV, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


# --- when the live line is drawn at all -------------------------------------------------------


def test_live_only_on_a_terminal_and_not_when_quiet() -> None:
    assert live_enabled(False, FakeTTY()) is True
    assert live_enabled(True, FakeTTY()) is False
    assert live_enabled(False, io.StringIO()) is False


def test_live_is_off_on_a_dumb_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert live_enabled(False, FakeTTY()) is False


@pytest.mark.parametrize(("value", "enabled"), [("1", False), ("yes", False), ("0", True)])
def test_imgedit_no_progress_turns_it_off(
    monkeypatch: pytest.MonkeyPatch, value: str, enabled: bool
) -> None:
    monkeypatch.setenv(live.NO_PROGRESS_ENV, value)
    assert live_enabled(False, FakeTTY()) is enabled


def test_a_closed_stream_is_not_a_terminal() -> None:
    stream = FakeTTY()
    stream.close()
    assert live_enabled(False, stream) is False


# --- the spinner -----------------------------------------------------------------------------


def test_a_disabled_spinner_writes_nothing() -> None:
    stream = FakeTTY()
    with Spinner("editing", enabled=False, stream=stream, interval=0.001) as spinner:
        spinner.update("still editing")
        time.sleep(0.02)  # long enough for many frames, were any drawn
    assert stream.getvalue() == ""


def test_the_spinner_draws_frames_with_elapsed_time_and_leaves_a_clean_line() -> None:
    stream = FakeTTY()
    label = "editing with gpt-image-2 via cometapi-gpt-image"
    with Spinner(label, enabled=True, stream=stream, interval=0.005):
        wait_for(lambda: stream.getvalue().count(CLEAR) >= 4)
        frames = [f for f in stream.getvalue().split(CLEAR) if f]
    assert len({f[0] for f in frames}) >= 3  # the frame character moves
    assert all(FRAME.match(f) and f.endswith(" · 0 s") for f in frames), frames
    assert stream.getvalue().endswith(CLEAR)
    assert screen(stream.getvalue()) == [""]


def test_the_spinner_counts_minutes() -> None:
    stream = FakeTTY()
    with Spinner("editing", enabled=True, stream=stream, interval=60) as spinner:
        spinner._started -= 75  # as if the edit had been waited for 75 s
        spinner.update("editing with qwen-image-edit")
        last = stream.getvalue().split(CLEAR)[-1]
    assert last.endswith("editing with qwen-image-edit · 1m15s")


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_the_spinner_line_is_cleared_on_error_and_ctrl_c(exc: BaseException) -> None:
    stream = FakeTTY()
    with pytest.raises(type(exc)), Spinner("editing", enabled=True, stream=stream):
        raise exc
    assert "editing" in stream.getvalue()
    assert screen(stream.getvalue()) == [""]


def test_ascii_frames_when_the_terminal_cannot_print_braille() -> None:
    stream = FakeTTY(encoding="ascii")
    with Spinner("editing", enabled=True, stream=stream, interval=0.005):
        wait_for(lambda: stream.getvalue().count(CLEAR) >= 5)
    frames = [f for f in stream.getvalue().split(CLEAR) if f]
    assert {f[0] for f in frames} <= set("|/-\\")
    assert all(f.endswith("editing, 0 s") for f in frames)
    stream.getvalue().encode("ascii")  # nothing the terminal cannot print


def test_a_long_label_is_cut_to_the_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    stream = FakeTTY()
    with Spinner("editing " + "x" * 100, enabled=True, stream=stream):
        pass
    frame = stream.getvalue().split(CLEAR)[1]
    assert len(frame) == 39  # one short of the width: a wrapped line could not be erased
    assert frame.endswith("…")


def test_a_log_line_prints_above_the_spinner_not_glued_to_a_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stream)  # where click.echo(err=True) writes
    setup_logging()
    message = "HTTP 503 from cometapi-gpt-image; retrying in 0.5 s (retry 1 of 2)"
    with Spinner("editing with gpt-image-2", enabled=True, stream=stream, interval=60):
        logging.getLogger("imgedit").warning(message)
        after_log = stream.getvalue().rsplit("\n", 1)[1]
    assert screen(stream.getvalue()) == [f"imgedit: {message}", ""]
    assert after_log.startswith(CLEAR + "⠋ editing with gpt-image-2")  # drawn again below


def test_stdout_lines_print_above_the_bar_on_a_shared_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = FakeTTY()  # stdout and stderr are the same terminal
    monkeypatch.setattr(sys, "stdout", terminal)
    with BatchProgress(2, live=True, stream=terminal) as progress:
        progress.finished("line 1", "ok", "out/a.png", 1.0)
        live.echo_above("out/a.png", err=False)
        shown = screen(terminal.getvalue())
    assert shown[0] == "out/a.png"
    assert shown[1].startswith("imgedit: [")
    assert screen(terminal.getvalue()) == ["out/a.png", ""]


def test_log_lines_without_a_live_line_print_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging()
    logging.getLogger("imgedit").warning("a warning")
    assert stream.getvalue() == "imgedit: a warning\n"


def test_durations() -> None:
    assert [duration(s) for s in (0, 0.9, 12.7, 59.99, 60, 192, 3599, 3600, 3725)] == [
        "0 s",
        "0 s",
        "12 s",
        "59 s",
        "1m00s",
        "3m12s",
        "59m59s",
        "1h00m",
        "1h02m",
    ]


# --- batch progress ---------------------------------------------------------------------------


def test_plain_progress_is_one_line_per_finished_job() -> None:
    stream = io.StringIO()
    progress = BatchProgress(4, live=False, stream=stream)
    progress.started("line 12")
    progress.finished("line 12", "ok", "out/a.png", 61.23)
    progress.started("line 13")
    progress.finished(
        "line 13", "failed", "HTTP 503 from cometapi-gpt-image (after 3 attempts)", 2.0
    )
    progress.finished("line 14", "skipped", "already done: out/c.png")
    progress.close()

    assert stream.getvalue().splitlines() == [
        "imgedit: [1/4] ok line 12 -> out/a.png (61.2 s)",
        "imgedit: [2/4] failed line 13: HTTP 503 from cometapi-gpt-image (after 3 attempts)",
        "imgedit: [3/4] skipped line 14: already done: out/c.png",
    ]


def test_quiet_progress_prints_only_failures() -> None:
    stream = FakeTTY()
    progress = BatchProgress(3, live=True, quiet=True, stream=stream)
    progress.finished("line 1", "ok", "a.png", 1.0)
    progress.finished("line 2", "failed", "HTTP 429 from cometapi-gpt-image", 1.0)
    progress.finished("line 3", "skipped", "already done")
    progress.close()

    assert stream.getvalue() == "imgedit: [2/3] failed line 2: HTTP 429 from cometapi-gpt-image\n"


def test_a_failure_reason_never_shows_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMETAPI_KEY", "sk-live-secret-0123456789")
    stream = io.StringIO()
    progress = BatchProgress(1, live=False, stream=stream)
    progress.finished("line 1", "failed", "server said: bad key sk-live-secret-0123456789")
    assert "sk-live-secret" not in stream.getvalue()
    assert "<redacted>" in stream.getvalue()


def test_the_live_bar_counts_and_keeps_failures_above_it() -> None:
    stream = FakeTTY()
    progress = BatchProgress(120, live=True, stream=stream)
    first = screen(stream.getvalue())[-1]
    for job in ("line 1", "line 2", "line 3"):
        progress.started(job)
    progress.finished("line 1", "ok", "out/1.png", 60.0)
    progress.finished("line 2", "failed", "HTTP 503 from cometapi-gpt-image (after 3 attempts)")
    progress.finished("line 9", "skipped", "already done")
    wait_for(lambda: "3/120" in screen(stream.getvalue())[-1])
    shown = screen(stream.getvalue())
    progress.close()

    assert first == f"imgedit: [{'-' * 30}] 0/120 · 0 ok · 0 failed · 0 running · ETA --"
    assert shown[0] == (
        "imgedit: [2/120] failed line 2: HTTP 503 from cometapi-gpt-image (after 3 attempts)"
    )
    assert re.fullmatch(
        r"imgedit: \[-+\] 3/120 · 1 ok · 1 failed · 1 skipped · 1 running · ETA \d+m\d\ds",
        shown[1],
    ), shown
    assert len(shown) == 2
    assert screen(stream.getvalue()) == [shown[0], ""]  # the bar is gone, the failure stays


def test_the_bar_fills_as_jobs_finish() -> None:
    stream = FakeTTY()
    with BatchProgress(4, live=True, stream=stream) as progress:
        for i in range(4):
            progress.finished(f"line {i}", "ok", "x.png", 1.0)
        wait_for(lambda: "4/4" in screen(stream.getvalue())[-1])
        assert screen(stream.getvalue())[-1].startswith("imgedit: [" + "#" * 30 + "] 4/4")
    assert screen(stream.getvalue()) == [""]


def test_eta_uses_the_average_job_time_and_the_concurrency_seen() -> None:
    progress = BatchProgress(10, live=False, stream=io.StringIO())
    assert progress.eta() is None  # no data yet: "ETA --"
    progress.started("a")
    progress.started("b")
    progress.finished("skip", "skipped", "")  # costs nothing, does not lower the average
    progress.finished("a", "ok", "a.png", 10.0)
    # 10 jobs: 2 done, 1 running (long past the average), 7 queued on 2 workers.
    assert progress.eta(now=time.monotonic() + 1000) == pytest.approx(7 * 10.0 / 2)
    # Right after it started, the running job still needs about the average too.
    began = progress._running["b"]
    assert progress.eta(now=began) == pytest.approx((7 * 10.0 + 10.0) / 2)


def test_the_bar_is_redrawn_at_most_about_ten_times_a_second() -> None:
    stream = FakeTTY()
    progress = BatchProgress(200, live=True, stream=stream)
    began = time.monotonic()
    for i in range(200):  # a change every millisecond or so, for a fifth of a second
        progress.started(f"line {i}")
        progress.finished(f"line {i}", "ok", "x.png", 0.5)
        time.sleep(0.001)
    wait_for(lambda: "200/200" in screen(stream.getvalue())[-1])  # the last change is shown
    took = time.monotonic() - began
    progress.close()
    draws = stream.getvalue().count(CLEAR) - 1  # less the final erase
    assert draws <= 2 + took / BatchProgress.MAX_FPS_INTERVAL * 1.5, (draws, took)


def test_a_narrow_terminal_gets_a_shorter_bar_and_keeps_the_eta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "70")
    stream = FakeTTY()
    progress = BatchProgress(120, live=True, stream=stream)
    progress.close()
    drawn = stream.getvalue().split(CLEAR)[1]
    assert drawn == f"imgedit: [{'-' * 15}] 0/120 · 0 ok · 0 failed · ETA --"  # fits in 69


def test_a_log_line_prints_above_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging()
    with BatchProgress(2, live=True, stream=stream):
        logging.getLogger("imgedit").warning("HTTP 429 from cometapi-gpt-image; retrying")
        shown = screen(stream.getvalue())
    assert shown[0] == "imgedit: HTTP 429 from cometapi-gpt-image; retrying"
    assert shown[1].startswith("imgedit: [")
    assert screen(stream.getvalue()) == [shown[0], ""]


# --- imgedit edit, in process ----------------------------------------------------------------


@pytest.fixture
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def forced_live(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """click's runner is no terminal: say it is one, and record the quiet flag seen."""
    seen: list[bool] = []

    def enabled(quiet: bool, stream: object = None) -> bool:
        seen.append(quiet)
        return not quiet

    monkeypatch.setattr(live, "live_enabled", enabled)
    return seen


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


@pytest.mark.usefixtures("in_tmp")
def test_edit_spins_while_waiting_and_clears_before_printing(
    png_path: Path, forced_live: list[bool]
) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "--offline", "-o", "out.png")

    assert result.exit_code == 0, result.stderr
    assert forced_live == [False]
    assert "editing with gpt-image-2 via cometapi-gpt-image (offline)" in result.stderr
    assert screen(result.stderr)[-1] == ""  # the spinner's line is gone
    assert result.stdout == "out.png\n"


@pytest.mark.usefixtures("in_tmp")
@pytest.mark.parametrize(
    ("extra", "code", "written"),
    [(["--dry-run"], 0, False), (["--size", "7x7"], 2, False), (["-q"], 0, True)],
    ids=["dry-run", "refused before sending", "quiet"],
)
def test_no_spinner_for_a_dry_run_a_refused_edit_or_quiet(
    png_path: Path, forced_live: list[bool], extra: list[str], code: int, written: bool
) -> None:
    result = invoke("edit", png_path, "-p", PROMPT, "--offline", "-o", "out.png", *extra)

    assert result.exit_code == code, result.stderr
    assert Path("out.png").exists() is written
    assert "editing with" not in result.stderr + result.stdout
    assert CLEAR not in result.stderr
    assert forced_live in ([], [True])


# --- the real thing: the installed CLI on a pseudo-terminal ------------------------------------


@pytest.fixture
def slow_offline(tmp_path: Path, png_path: Path) -> Callable[..., tuple[int, str, str]]:
    """``imgedit edit`` as a process, offline, with the emulator answering after a delay set
    through its fault header (from config). Returns (exit code, stdout, what stderr showed)."""
    xdg = tmp_path / "xdg-config"
    xdg.mkdir()

    def run(latency: float, *args: str, stderr_tty: bool = True) -> tuple[int, str, str]:
        (tmp_path / "imgedit.toml").write_text(
            "[providers.cometapi-gpt-image.headers]\n"
            f'"X-Imgedit-Emulator-Fault" = "latency={latency}"\n',
            encoding="utf-8",
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("COMETAPI_", "IMGEDIT_"))},
            "IMGEDIT_LOAD_PLUGINS": "cometapi-gpt-image,cometapi-qwen-image-edit",
            "XDG_CONFIG_HOME": str(xdg),
            "TERM": "xterm-256color",
            "PYTHONIOENCODING": "utf-8",
        }
        argv = [installed_imgedit(), "edit", str(png_path), "-p", PROMPT, "--offline", *args]
        if not stderr_tty:
            done = subprocess.run(
                argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            return done.returncode, done.stdout, done.stderr
        import pty

        parent, child = pty.openpty()
        proc = subprocess.Popen(
            argv, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=child,
        )  # fmt: skip
        os.close(child)
        raw = b""
        while True:
            ready, _, _ = select.select([parent], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(parent, 4096)
                except OSError:  # EIO: the process closed its side
                    chunk = b""
                if not chunk:
                    break
                raw += chunk
            elif proc.poll() is not None:
                break
        os.close(parent)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        proc.stdout.close()
        return proc.wait(timeout=30), out, raw.decode("utf-8")

    return run


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


@posix_only
def test_on_a_terminal_the_spinner_draws_and_counts_seconds_then_clears(
    slow_offline: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    code, out, shown = slow_offline(1.3, "-o", "out.png")

    assert code == 0, shown
    assert out == "out.png\n"
    assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")
    frames = [f for f in shown.replace("\r\n", "\n").split(CLEAR) if FRAME.match(f)]
    assert len({f[0] for f in frames}) >= 5, shown  # the frame character moved
    assert any(f.endswith("(offline) · 0 s") for f in frames)
    assert any(f.endswith("(offline) · 1 s") for f in frames)  # elapsed time counts up
    lines = screen(shown.replace("\r\n", "\n"))
    assert lines[0].startswith("imgedit: offline: the built-in emulator answers")
    assert lines[1:] == [""]  # nothing of the spinner is left on screen


@posix_only
@pytest.mark.parametrize(
    ("args", "stderr_tty"), [((), False), (("-q",), True)], ids=["piped", "quiet"]
)
def test_piped_or_quiet_the_spinner_never_draws(
    slow_offline: Callable[..., tuple[int, str, str]], args: tuple[str, ...], stderr_tty: bool
) -> None:
    code, out, shown = slow_offline(0.3, "-o", "out.png", *args, stderr_tty=stderr_tty)

    assert code == 0, shown
    assert out == "out.png\n"
    assert "editing with" not in shown
    assert "\x1b" not in shown
    assert "\r" not in shown.replace("\r\n", "\n")


@pytest.fixture(autouse=True)
def _no_live_line_left() -> Iterator[None]:
    yield
    assert live._active is None, "a live line was left registered"

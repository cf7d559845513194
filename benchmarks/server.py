"""The loopback emulator as a separate process, so its CPU and memory never count against a
client: ``imgedit emulator --port 0 --cache --latency S``, base URL read from its first line,
stopped with SIGTERM."""

from __future__ import annotations

import functools
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from types import TracebackType
from typing import IO


class EmulatorError(RuntimeError):
    pass


class EmulatorProcess:
    """``with EmulatorProcess(imgedit, latency=0.05, env=env) as emu: emu.base_url``."""

    def __init__(
        self,
        imgedit: str,
        *,
        latency: float = 0.0,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str],
        cache: bool = True,
        startup_timeout: float = 30.0,
    ) -> None:
        self.imgedit = imgedit
        self.latency = latency
        self.env = dict(env)
        self.cwd = cwd
        self.cache = cache and supports_cache(imgedit)
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def argv(self) -> list[str]:
        argv = [self.imgedit, "emulator", "--port", "0", "--latency", f"{self.latency:g}"]
        if self.cache:
            argv.append("--cache")
        return argv

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def cpu_seconds(self) -> float | None:
        """The server's CPU time so far (user + system), from /proc; None where there is none."""
        if self._proc is None:
            return None
        try:
            with open(f"/proc/{self._proc.pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> EmulatorProcess:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        proc = self._proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        assert proc.stdout is not None
        line = _read_line(proc.stdout, self.startup_timeout)
        if not line.startswith("http"):
            self.stop()
            raise EmulatorError(
                f"the emulator ({' '.join(self.argv)}) did not print its base URL; "
                f"it said: {line or self.stderr_text() or '(nothing)'}"
            )
        self.base_url = line.strip()
        return self

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


@functools.lru_cache
def supports_cache(imgedit: str) -> bool:
    """Whether this imgedit's emulator takes ``--cache`` (older ones render every answer)."""
    done = subprocess.run(
        [imgedit, "emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "--cache" in done.stdout


def _read_line(stream: IO[bytes], timeout: float) -> str:
    """The first line of ``stream``, or what arrived before ``timeout`` or end of file."""
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode("utf-8", "replace")

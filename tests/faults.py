"""A real HTTP server on 127.0.0.1 that misbehaves on cue, and a runner for the real CLI.

Each POST to the edits route plays the next step of a script: an answer, a reset (the socket
closed with SO_LINGER 0, so the client reads ECONNRESET), a slow answer, a body cut short, an
upload that is never read. File routes serve downloads: oversized, not images, or trickled.
Everything is recorded with its arrival time (``time.monotonic()``), so a test can assert how
many requests the server saw and how long the client waited between them.

Requests are recorded as :class:`loopback.Recorded` (with ``at`` and ``connection`` added), so
multipart bodies are read back with the standard library, independently of imgedit.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from conftest import BUILTIN_PLUGINS
from loopback import EDITS_PATH, Recorded

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class Seen(Recorded):
    """One request as it crossed the socket, with when it arrived and on which connection."""

    at: float = 0.0
    connection: int = 0


# -- faults: what the server does with one request ------------------------------------------------


class Fault:
    """One scripted behaviour. ``reads_body`` False leaves the upload unread on the socket."""

    reads_body = True

    def __call__(self, handler: FaultHandler) -> None:
        raise NotImplementedError


@dataclass
class Respond(Fault):
    """A complete answer."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, handler: FaultHandler) -> None:
        handler.send_head(self.status, self.content_type, len(self.body), self.headers)
        handler.wfile.write(self.body)


def answer(body: Any, status: int = 200, **headers: str) -> Respond:
    """A JSON answer; header names use ``_`` for ``-`` (``retry_after_ms="50"``)."""
    return Respond(status, json.dumps(body).encode(), "application/json", _headers(headers))


def text(status: int, body: str, content_type: str = "text/html", **headers: str) -> Respond:
    return Respond(status, body.encode(), content_type, _headers(headers))


def _headers(given: Mapping[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in given.items()}


class Reset(Fault):
    """Read the whole request, then close with SO_LINGER 0: a TCP reset, no answer at all."""

    def __call__(self, handler: FaultHandler) -> None:
        handler.reset()


@dataclass
class Delay(Fault):
    """Answer only after ``seconds`` (or never, if the server stops first)."""

    seconds: float
    then: Fault

    def __call__(self, handler: FaultHandler) -> None:
        if handler.owner.stopping.wait(self.seconds):
            handler.close_connection = True
            return
        self.then(handler)


@dataclass
class Truncated(Fault):
    """Announce ``claimed`` bytes in Content-Length, send ``body`` only, then close."""

    status: int
    body: bytes
    claimed: int
    content_type: str = "application/json"

    def __call__(self, handler: FaultHandler) -> None:
        handler.send_head(self.status, self.content_type, self.claimed, {})
        handler.wfile.write(self.body)
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_WR)


@dataclass
class StallUpload(Fault):
    """Take the request line and headers, never read the body, never answer."""

    reads_body = False
    seconds: float = 30.0

    def __call__(self, handler: FaultHandler) -> None:
        handler.owner.stopping.wait(self.seconds)
        handler.close_connection = True


@dataclass
class Stream(Fault):
    """``total`` bytes, starting with ``head``, sent in chunks; counts what really went out."""

    total: int
    head: bytes = PNG_SIGNATURE
    content_type: str = "image/png"
    chunk: int = 1 << 20

    def __call__(self, handler: FaultHandler) -> None:
        handler.send_head(200, self.content_type, self.total, {})
        left = self.total
        block = self.head + bytes(self.chunk - len(self.head))
        zeros = bytes(self.chunk)
        while left > 0:
            piece = (block if left == self.total else zeros)[: min(self.chunk, left)]
            handler.wfile.write(piece)
            handler.owner.count_sent(handler.path, len(piece))
            left -= len(piece)


@dataclass
class Trickle(Fault):
    """A 200 whose body comes one byte every ``interval`` seconds: never silent for long."""

    body: bytes
    interval: float
    content_type: str = "image/png"

    def __call__(self, handler: FaultHandler) -> None:
        handler.send_head(200, self.content_type, len(self.body), {})
        for i in range(len(self.body)):
            if handler.owner.stopping.wait(self.interval):
                handler.close_connection = True
                return
            handler.wfile.write(self.body[i : i + 1])
            handler.owner.count_sent(handler.path, 1)


# -- the server -----------------------------------------------------------------------------------


@dataclass
class FaultServer:
    """``with FaultServer() as server:``, then ``server.script(...)`` and ``server.serve(...)``.

    The i-th POST to the edits route plays the i-th fault of the script; when the script runs
    out, its last fault repeats. Other routes answer 404 unless :meth:`serve` set them.
    """

    requests: list[Seen] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Unexpected exceptions in handler threads (a test can assert there were none)."""
    stopping: threading.Event = field(default_factory=threading.Event)
    _script: list[Fault] = field(default_factory=list)
    _files: dict[str, Fault] = field(default_factory=dict)
    _sent: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connections: dict[int, socket.socket] = field(default_factory=dict)
    _accepted: int = 0
    _edits_played: int = 0
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- configuration ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What COMETAPI_BASE_URL (or ``Client(base_url=...)``) should be."""
        return f"{self.origin}/v1"

    def script(self, *faults: Fault) -> None:
        self._script = list(faults)

    def serve(self, path: str, fault: Fault) -> str:
        """Play ``fault`` for GET ``path`` (any query); returns the full URL."""
        self._files[path] = fault
        return self.origin + path

    # -- what happened ---------------------------------------------------------------------------

    def edit_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "POST" and r.path == EDITS_PATH]

    def gets(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "GET"]

    def gaps(self) -> list[float]:
        """Seconds between consecutive edit requests, as the server saw them arrive."""
        times = [r.at for r in self.edit_requests()]
        return [b - a for a, b in itertools.pairwise(times)]

    def sent(self, path: str) -> int:
        """Body bytes written for GET ``path`` (before the client hung up)."""
        with self._lock:
            return self._sent.get(path, 0)

    @property
    def connections_accepted(self) -> int:
        with self._lock:
            return self._accepted

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the server saw {len(self.requests)} of {count} requests")
            time.sleep(0.01)

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FaultServer:
        self._httpd = _HTTPServer(("127.0.0.1", 0), FaultHandler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="fault-http", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Wake every stalled handler, cut open connections, close the port; safe twice."""
        if self._httpd is None or self._thread is None:
            return
        self.stopping.set()
        with self._lock:
            open_sockets = list(self._connections.values())
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the handler threads
        self._thread.join(timeout=5)
        self._thread = None

    # -- called from handler threads -------------------------------------------------------------

    def count_sent(self, path: str, n: int) -> None:
        with self._lock:
            key = path.split("?")[0]
            self._sent[key] = self._sent.get(key, 0) + n

    def _opened(self, sock: socket.socket) -> int:
        with self._lock:
            self._accepted += 1
            self._connections[self._accepted] = sock
            return self._accepted

    def _closed(self, number: int) -> None:
        with self._lock:
            self._connections.pop(number, None)

    def _record(self, request: Seen) -> None:
        with self._lock:
            self.requests.append(request)

    def _fault_for(self, method: str, path: str) -> Fault:
        route = path.split("?")[0]
        if method == "POST" and route == EDITS_PATH:
            with self._lock:
                index = self._edits_played
                self._edits_played += 1
            if not self._script:
                return answer({"error": {"message": "no script"}}, 500)
            return self._script[min(index, len(self._script) - 1)]
        if method == "GET" and route in self._files:
            return self._files[route]
        return answer({"error": {"message": "no such route"}}, 404)


class _HTTPServer(ThreadingHTTPServer):
    owner: FaultServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        import traceback

        self.owner.errors.append(traceback.format_exc())


class FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a keep-alive connection nobody closes cannot hold a thread (and stop()) long
    server: _HTTPServer

    @property
    def owner(self) -> FaultServer:
        return self.server.owner

    def setup(self) -> None:
        super().setup()
        self._number = self.owner._opened(self.connection)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError):
                super().finish()
        finally:
            self.owner._closed(self._number)

    def handle(self) -> None:
        with contextlib.suppress(*_CLIENT_GONE):
            super().handle()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        arrived = time.monotonic()
        fault = self.owner._fault_for(self.command, self.path)
        body = self._read_body() if fault.reads_body else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner._record(
            Seen(self.command, self.path, headers, body, at=arrived, connection=self._number)
        )
        try:
            fault(self)
        except _CLIENT_GONE:
            self.close_connection = True

    # -- tools for faults ------------------------------------------------------------------------

    def send_head(
        self, status: int, content_type: str, length: int, headers: Mapping[str, str]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def reset(self) -> None:
        """Close with SO_LINGER 0 now: the kernel sends RST instead of FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.close(self.connection.detach())

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


# -- the real CLI, as a process -------------------------------------------------------------------


def imgedit_command() -> list[str]:
    """The installed console script beside this Python, else on PATH, else ``-m``."""
    beside = Path(sys.executable).parent / "imgedit"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("imgedit")
    return [found] if found else [sys.executable, "-m", "imgedit_core"]


def cli_env(base_url: str, key: str | None, **extra: str) -> dict[str, str]:
    """This process's environment without imgedit's settings or proxies, plus the given ones.

    Only the built-in plugins load (contrib's fal also serves qwen-image-edit); the config
    folder is whatever the test's environment says (conftest points it at a temporary one).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMETAPI_", "IMGEDIT_")) and "proxy" not in k.lower()
    }
    env["IMGEDIT_LOAD_PLUGINS"] = BUILTIN_PLUGINS
    env["COMETAPI_BASE_URL"] = base_url
    if key is not None:
        env["COMETAPI_KEY"] = key
    env.update(extra)
    return env


def run_imgedit(
    args: Sequence[object],
    *,
    base_url: str,
    key: str | None,
    cwd: Path,
    timeout: float = 60,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*imgedit_command(), *map(str, args)],
        env=cli_env(base_url, key, **extra_env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_imgedit(
    args: Sequence[object], *, base_url: str, key: str | None, cwd: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*imgedit_command(), *map(str, args)],
        env=cli_env(base_url, key),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def fresh_imgedit_logging() -> Iterator[logging.Logger]:
    """The CLI sets the ``imgedit`` logger up for itself (its own handler and level), and that
    outlives an in-process run: undo it for the block, so caplog sees imgedit's records
    whichever tests ran before, and restore it afterwards."""
    logger = logging.getLogger("imgedit")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    try:
        yield logger
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def files_in(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden ones (``.NAME.XXXX.part`` temp files) included."""
    return sorted(p.name for p in folder.iterdir())

"""Loopback delivery: the emulator on a real socket, served from a thread.

Real sockets are what a benchmark, another process (the ``imgedit`` CLI, the official openai
SDK) or a connection-level fault (a reset, a connection closed mid-body) needs.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx

from .app import Emulator
from .envelope import comet_error
from .records import RequestRecord
from .reply import Reply, error_reply


class EmulatorServer:
    """``with EmulatorServer() as server:`` serves on ``server.base_url`` until the block ends.

    ``port=0`` picks a free port. ``server.requests`` lists what was received, with monotonic
    start and end times and the status sent (None for a reset).
    """

    def __init__(
        self,
        emulator: Emulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.emulator = emulator if emulator is not None else Emulator()
        self.host = host
        self.requested_port = port
        self.verbose = verbose
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._gate = threading.Event()
        self._gate.set()

    def __repr__(self) -> str:
        where = self.base_url if self._httpd else "not running"
        return f"<imgedit EmulatorServer {where}>"

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the emulator server is not running: call start() first")
        return int(self._httpd.server_address[1])

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``COMETAPI_BASE_URL`` (or an SDK's ``base_url``) should be set to."""
        return f"{self.origin}/v1"

    @property
    def requests(self) -> list[RequestRecord]:
        return self.emulator.requests

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        """Bind and serve in a daemon thread; raises OSError if the port cannot be bound."""
        if self._httpd is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("_BoundServer", (_HTTPServer,), {"address_family": family})
        httpd: _HTTPServer = server_class((self.host, self.requested_port), _Handler)
        httpd.emulator = self.emulator
        httpd.verbose = self.verbose
        httpd.gate = self._gate
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"imgedit-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def pause(self) -> None:
        """Hold every answer until :meth:`resume`: requests still arrive and are read.

        A test freezes the world with it (nothing more reaches the client), inspects what the
        client has done with the answers it already has, then acts (say, ``kill -9``).
        """
        self._gate.clear()

    def resume(self) -> None:
        self._gate.set()

    @property
    def paused(self) -> bool:
        return not self._gate.is_set()

    def stop(self) -> None:
        """Stop serving and close the port; safe to call twice."""
        self._gate.set()  # held answers go out (to whoever still listens) so threads end
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once
    emulator: Emulator
    verbose: bool = False
    gate: threading.Event


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (40 ms on Linux), a stall no real server adds.
    disable_nagle_algorithm = True
    server_version = "imgedit-emulator"
    sys_version = ""
    server: _HTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        started = time.monotonic()
        body = self._read_body()
        reply = self._decide(body)
        if reply.delay:
            time.sleep(reply.delay)
        self.server.gate.wait()
        recorded = False

        def record() -> None:
            """Called just before the last byte (or the reset) goes out, so a client that has
            its whole answer always finds its request in the log."""
            nonlocal recorded
            if not recorded:
                recorded = True
                self._record(started, reply)

        try:
            if reply.reset:
                record()
                self._reset()
            else:
                self._send(reply, record)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading (e.g. a capped download)
        finally:
            record()

    def _record(self, started: float, reply: Reply) -> None:
        path = self.path.split("?")[0]
        self.server.emulator.record(self.command, path, started, reply)
        if self.server.verbose:
            status = "reset" if reply.reset else str(reply.status)
            fault = f" [fault {reply.fault}]" if reply.fault else ""
            print(f"{self.command} {path} -> {status}{fault}", file=sys.stderr, flush=True)

    def _decide(self, body: bytes) -> Reply:
        host = self.headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        try:
            request = httpx.Request(
                self.command,
                f"http://{host}{self.path}",
                headers=self.headers.items(),
                content=body,
            )
            return self.server.emulator.reply(request)
        except Exception as exc:  # never let one request kill the server thread silently
            traceback.print_exc(file=sys.stderr)
            return error_reply(
                comet_error(500, f"imgedit emulator internal error: {type(exc).__name__}: {exc}")
            )

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply, record: Callable[[], None]) -> None:
        phrase = "A Timeout Occurred" if reply.status == 524 else None
        self.send_response(reply.status, phrase)
        for name, value in reply.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(reply.length))
        if reply.cut_at is not None:
            self.send_header("Connection", "close")
            self.close_connection = True  # fewer bytes than Content-Length, then FIN
        if self.command == "HEAD" or reply.length == 0:
            record()
            self.end_headers()
            return
        self.end_headers()
        held = b""
        for chunk in reply.chunks():
            if held:
                self.wfile.write(held)
            held = chunk
        if reply.cut_at is not None:  # the client waits for the rest until the FIN
            self.wfile.write(held)
            record()
            return
        self.wfile.write(held[:-1])
        record()
        self.wfile.write(held[-1:])

    def _reset(self) -> None:
        """Close without answering, with RST rather than FIN (SO_LINGER 0)."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop the makefile reference so close() really closes now
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded in the emulator's log; --verbose prints them

"""A real HTTP server on 127.0.0.1 that plays the edits route and records what it was sent.

Multipart bodies are read back with the standard library's email parser, independently of
imgedit's own code, so what the tests assert is what actually crossed the socket.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

EDITS_PATH = "/v1/images/edits"


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def parts(self) -> list[Part]:
        """The multipart/form-data parts of the body, in order."""
        if not self.content_type.startswith("multipart/form-data"):
            raise AssertionError(f"not multipart: {self.content_type!r}")
        head = f"Content-Type: {self.content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
        parts = []
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            parts.append(
                Part(
                    name=str(part.get_param("name", header="content-disposition")),
                    filename=part.get_param("filename", header="content-disposition"),
                    content_type=part.get("content-type"),
                    data=payload if isinstance(payload, bytes) else b"",
                )
            )
        return parts

    def form_fields(self) -> dict[str, str]:
        """The text (non-file) parts, by name."""
        return {p.name: p.data.decode() for p in self.parts() if p.filename is None}

    def files(self) -> list[Part]:
        return [p for p in self.parts() if p.filename is not None]


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str


@dataclass
class LoopbackServer:
    """Start with ``with LoopbackServer() as server``; configure answers, read ``requests``."""

    requests: list[Recorded] = field(default_factory=list)
    _edit: _Answer = field(default_factory=lambda: _Answer(404, b"{}", "application/json"))
    _files: dict[str, _Answer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- configuration ----------------------------------------------------------------------

    @property
    def origin(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What COMETAPI_BASE_URL should be set to."""
        return f"{self.origin}/v1"

    def answer_edit(self, body: Mapping[str, Any], status: int = 200) -> None:
        self._edit = _Answer(status, json.dumps(body).encode(), "application/json")

    def serve_file(self, path: str, data: bytes, content_type: str = "image/png") -> str:
        """Serve ``data`` at GET ``path``; returns its full URL."""
        self._files[path] = _Answer(200, data, content_type)
        return self.origin + path

    def edit_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == EDITS_PATH]

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LoopbackServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="loopback-http", daemon=True
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
        """Stop serving and close the port (the address stays known); safe to call twice."""
        if self._thread is None or self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._thread = None

    # -- called from the handler threads ----------------------------------------------------

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def _answer_for(self, method: str, path: str) -> _Answer:
        if method == "POST" and path == EDITS_PATH:
            return self._edit
        if method == "GET" and path.split("?")[0] in self._files:
            return self._files[path.split("?")[0]]
        return _Answer(404, b'{"error": {"message": "no such route"}}', "application/json")


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            body = self._read_body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._record(Recorded(self.command, self.path, headers, body))
            answer = server._answer_for(self.command, self.path)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

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

    return Handler

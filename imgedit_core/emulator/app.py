"""The emulator itself: one callable from ``httpx.Request`` to ``httpx.Response``.

It plays CometAPI's ``POST /v1/images/edits`` (see ``rules.py`` for what it accepts), serves
the files its qwen answers point at (``GET /v1/emulator/files/<id>.png``), and injects faults
(``faults.py``). The transports and the loopback server deliver its :class:`Reply` objects.
"""

from __future__ import annotations

import hashlib
import http
import json
import re
import threading
import time
from collections.abc import Collection, Iterable
from typing import Any

import httpx

from .answers import gpt_answer, qwen_answer
from .envelope import RouteError, comet_error, field_error
from .faults import (
    AFTER_ANSWER,
    DEFAULT_OVERSIZE,
    DEFAULT_REDIRECT,
    FAULT_HEADER,
    GRAMMAR,
    Fault,
    FaultPlan,
    FaultSpecError,
    parse_fault,
)
from .files import FileStore
from .multipart import Form, MultipartError, parse_form
from .records import RequestLog, RequestRecord
from .reply import Reply, error_reply, json_reply, to_httpx
from .rules import EditPlan, QwenModel, check_edit

EDITS_PATH = "/v1/images/edits"
FILES_PREFIX = "/v1/emulator/files/"
URL_LIFETIME = 24 * 3600  # qwen's upstream URLs last 24 h
CACHE_ENTRIES = 32  # rendered answers kept with cache=True; 16 MB ones add up

_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)
_FILE_PATH = re.compile(r"^/v1/emulator/files/([0-9a-f]{32})\.png$")

HTML_PAGE = (
    b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>CometAPI</title>'
    b'</head><body><div id="root">CometAPI - imgedit emulator: this is the web site, not '
    b"the API. Use the base URL https://api.cometapi.com/v1.</div></body></html>"
)
EXPIRED_URL_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired.</Message></Error>"
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: What each fault status says, in the envelope the route uses for it.
_STATUS_MESSAGES: dict[int, tuple[str, str]] = {
    200: ("upstream error: the provider answered without an image", ""),
    400: ("bad request", "invalid_request"),
    401: ("Invalid token", ""),
    403: ("access denied: this key may not use this model", ""),
    404: ("not found", ""),
    408: ("request timeout: the upstream did not receive the request in time", ""),
    409: ("conflict: an identical request is already in progress", ""),
    413: ("request entity too large", ""),
    500: ("internal server error", ""),
    502: ("bad gateway: the upstream connection failed", ""),
    503: ("the upstream service is overloaded; try again later", ""),
    504: ("gateway timeout: the upstream did not answer in time", ""),
    524: ("a timeout occurred: the upstream did not answer within 100 seconds", ""),
}


class Emulator:
    """CometAPI's edit route, emulated. Call it with an ``httpx.Request``.

    ``faults``: specs (or :class:`Fault`) consumed one per edit request (downloads of result
    files consume none; ``oversize``/``not-image`` mark the files of the edit that takes them).
    ``latency``: seconds added before every answer. ``api_keys``: the keys accepted (None: any
    non-empty bearer key). ``aggregator_extras``: answer GPT edits in the aggregator's shape
    (``gpt-image-aggregator-extras.json``). ``created``: a fixed ``created`` timestamp.
    ``cache``: render identical edit requests once (see :attr:`cache`).
    """

    def __init__(
        self,
        *,
        faults: Iterable[str | Fault] = (),
        latency: float = 0.0,
        api_keys: Collection[str] | None = None,
        aggregator_extras: bool = False,
        created: int | None = None,
        max_files: int = 256,
        cache: bool = False,
    ) -> None:
        if latency < 0:
            raise ValueError(f"latency must be 0 or more seconds, not {latency}")
        self.plan = FaultPlan(faults)
        self.latency = latency
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.aggregator_extras = aggregator_extras
        self.created = created
        self.files = FileStore(max_files)
        self.log = RequestLog()
        self.cache: dict[str, list[bytes]] | None = {} if cache else None
        """Rendered images by request digest (``cache=True``): the render is deterministic, so
        a benchmark's identical requests cost the server one render, not one each."""
        self._replies: dict[str, Reply] = {}
        """Whole GPT answers by raw request digest (``cache=True``): a repeat skips even the
        multipart parsing, so a benchmark measures its clients, not the emulator."""
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<imgedit Emulator latency={self.latency} faults={self.plan.pending()!r}>"

    # -- the three ways in -------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request, sleeping for any latency; usable as a respx side effect."""
        started = time.monotonic()
        request.read()
        reply = self.reply(request)
        limit = _read_timeout(request)
        if limit is not None and reply.delay > limit:
            time.sleep(limit)
            self._timed_out(request, started, reply)
        if reply.delay:
            time.sleep(reply.delay)
        self.record(request.method, request.url.path, started, reply)
        return to_httpx(reply, request)

    async def acall(self, request: httpx.Request) -> httpx.Response:
        """The async twin of ``__call__``: rendering runs in a worker thread."""
        import anyio
        import anyio.to_thread

        started = time.monotonic()
        await request.aread()
        reply = await anyio.to_thread.run_sync(self.reply, request)
        limit = _read_timeout(request)
        if limit is not None and reply.delay > limit:
            await anyio.sleep(limit)
            self._timed_out(request, started, reply)
        if reply.delay:
            await anyio.sleep(reply.delay)
        self.record(request.method, request.url.path, started, reply)
        return to_httpx(reply, request)

    def _timed_out(self, request: httpx.Request, started: float, reply: Reply) -> None:
        """In-process, a delay longer than the client's read timeout ends as it would on a
        socket: no answer, and the client's ``httpx.ReadTimeout``."""
        self.record(request.method, request.url.path, started, reply.with_(reset=True))
        raise httpx.ReadTimeout("timed out", request=request)

    def record(self, method: str, path: str, started: float, reply: Reply) -> None:
        status = None if reply.reset else reply.status
        self.log.add(
            RequestRecord(
                method, path, started, time.monotonic(), status, reply.fault, dict(reply.fields)
            )
        )

    @property
    def requests(self) -> list[RequestRecord]:
        return self.log.records()

    def add_faults(self, *specs: str | Fault) -> None:
        self.plan.extend(specs)

    # -- deciding the answer -----------------------------------------------------------------

    def reply(self, request: httpx.Request) -> Reply:
        """Decide the answer to a request whose body has been read; no sleeping, no recording."""
        method, path = request.method.upper(), request.url.path
        is_edit = method == "POST" and path == EDITS_PATH
        is_file = method in ("GET", "HEAD") and path.startswith(FILES_PREFIX)
        if not (is_edit or is_file):
            return self._elsewhere(method, path)
        key = _raw_digest(request) if is_edit and self.cache is not None else None
        hit = self._cached_reply(key)
        form = _read_form(request) if is_edit and hit is None else None
        fields = hit.fields if hit is not None else _text_fields(form)
        fault = self._fault_for(request, from_plan=is_edit)
        if isinstance(fault, Reply):
            return fault.with_(fields=fields)
        delay = self.latency + (fault.delay if fault else 0.0)
        spec = fault.spec if fault else None
        if fault is not None and fault.kind not in AFTER_ANSWER | {"ok", "latency"}:
            return _fault_reply(fault).with_(delay=delay, fault=spec, fields=fields)
        if hit is not None and (fault is None or fault.kind in ("ok", "latency")):
            return hit.with_(delay=delay, fault=spec)
        if is_edit and form is None:
            form = _read_form(request)
        reply = self._edit(request, form, fault) if is_edit else self._file(path, fault)
        if (
            key is not None
            and reply.cacheable
            and (fault is None or fault.kind in ("ok", "latency"))
        ):
            with self._cache_lock:
                if len(self._replies) >= CACHE_ENTRIES:
                    self._replies.pop(next(iter(self._replies)))
                self._replies[key] = reply.with_(fields=fields)
        if fault is not None and fault.kind in ("truncate", "early-close", "bad-b64"):
            reply = _damage(reply, fault)
        return reply.with_(delay=delay, fault=spec, fields=fields)

    def _fault_for(self, request: httpx.Request, *, from_plan: bool) -> Fault | Reply | None:
        """The request's own fault header wins (and leaves the plan alone); else, for edit
        requests, the plan's next fault. Downloads never consume the plan, so "503, 503, then
        normal" counts edit attempts; download faults in the plan mark the edit's files."""
        spec = request.headers.get(FAULT_HEADER)
        if spec is None:
            return self.plan.next() if from_plan else None
        try:
            faults = parse_fault(spec)
        except FaultSpecError as exc:
            return error_reply(
                field_error(
                    f"{FAULT_HEADER}: {exc}",
                    param=FAULT_HEADER,
                    code="invalid_fault_spec",
                    type="emulator_error",
                )
            )
        if len(faults) != 1:
            return error_reply(
                field_error(
                    f"{FAULT_HEADER} takes one fault, without *COUNT; got {spec!r}. {GRAMMAR}",
                    param=FAULT_HEADER,
                    code="invalid_fault_spec",
                    type="emulator_error",
                )
            )
        return faults[0]

    def _elsewhere(self, method: str, path: str) -> Reply:
        """Wrong paths: JSON 404 under /v1 (as OpenAI-style gateways answer), the web site's
        HTML page elsewhere (CometAPI's guide: a wrong base URL may give HTML)."""
        if path == "/v1" or path.startswith("/v1/"):
            return error_reply(
                field_error(
                    f"Invalid URL ({method} {path}). The emulator serves POST {EDITS_PATH}.",
                    param=None,
                    code=None,
                    status=404,
                )
            )
        return Reply(200, (("content-type", "text/html; charset=utf-8"),), HTML_PAGE)

    # -- the edit route ----------------------------------------------------------------------

    def _edit(
        self, request: httpx.Request, form: Form | MultipartError | None, fault: Fault | None
    ) -> Reply:
        refusal = self._auth(request.headers.get("authorization"))
        if refusal is None:
            if isinstance(form, MultipartError):
                refusal = comet_error(500, f"invalid request: {form}", code="invalid_request")
            else:
                assert form is not None
                plan = check_edit(form)
                if isinstance(plan, RouteError):
                    refusal = plan
                else:
                    return self._answer(request, plan, fault, form)
        return error_reply(refusal)

    def _auth(self, header: str | None) -> RouteError | None:
        if not header:
            return comet_error(
                401, "no API key was sent: set the header Authorization: Bearer <your key>"
            )
        match = _BEARER.match(header)
        if not match:
            return comet_error(
                401, "Invalid token: the Authorization header must be 'Bearer <your key>'"
            )
        if self.api_keys is not None and match.group(1) not in self.api_keys:
            return comet_error(401, "Invalid token: this key is not accepted; check the key")
        return None

    def _answer(
        self, request: httpx.Request, plan: EditPlan, fault: Fault | None, form: Form
    ) -> Reply:
        key = _digest(form) if self.cache is not None else None
        cached = self._cached(key)
        outputs = cached if cached is not None else self._render(plan)
        if key is not None and cached is None:
            with self._cache_lock:
                assert self.cache is not None
                if len(self.cache) >= CACHE_ENTRIES:
                    self.cache.pop(next(iter(self.cache)))
                self.cache[key] = outputs
        created = self.created if self.created is not None else int(time.time())
        if not isinstance(plan.rules, QwenModel):
            # b64 answers stand alone (qwen's URLs point at files that expire): cacheable.
            return json_reply(
                200, gpt_answer(plan, outputs, created=created, aggregator=self.aggregator_extras)
            ).with_(cacheable=True)
        download_fault = fault if fault and fault.kind in ("oversize", "not-image") else None
        urls = []
        for image in outputs:
            file_id = self.files.put(
                image,
                download_fault.kind if download_fault else None,
                _download_param(download_fault),
            )
            urls.append(_file_url(request.url, file_id, created))
        return json_reply(200, qwen_answer(plan, outputs, urls, created=created))

    def _cached_reply(self, key: str | None) -> Reply | None:
        if key is None:
            return None
        with self._cache_lock:
            return self._replies.get(key)

    def _cached(self, key: str | None) -> list[bytes] | None:
        if key is None or self.cache is None:
            return None
        with self._cache_lock:
            return self.cache.get(key)

    def _render(self, plan: EditPlan) -> list[bytes]:
        from .render import RenderSpec, render

        return [
            render(
                RenderSpec(
                    images=plan.images,
                    prompt=plan.prompt,
                    size=plan.size,
                    mask=plan.mask,
                    output_format=plan.output_format,
                    compression=plan.compression,
                    transparent=plan.background == "transparent",
                    index=i,
                    count=plan.n,
                    model=plan.model,
                    watermark=plan.watermark,
                )
            )
            for i in range(plan.n)
        ]

    # -- the files qwen answers point at ----------------------------------------------------

    def _file(self, path: str, fault: Fault | None) -> Reply:
        match = _FILE_PATH.match(path)
        stored = self.files.get(match.group(1)) if match else None
        if stored is None:
            return Reply(
                404,
                (("content-type", "application/xml"),),
                b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                b"<Message>The specified key does not exist (the emulator keeps the newest "
                + str(self.files.capacity).encode()
                + b" files).</Message></Error>",
            )
        kind, param = stored.fault, stored.fault_param
        if fault is not None and fault.kind in ("oversize", "not-image"):
            kind, param = fault.kind, _download_param(fault)
        if kind == "oversize":
            size = int(param or DEFAULT_OVERSIZE)
            head = PNG_SIGNATURE[:size]
            return Reply(200, (("content-type", "image/png"),), head, padding=size - len(head))
        if kind == "not-image":
            return Reply(200, (("content-type", param or "image/png"),), EXPIRED_URL_BODY)
        return Reply(200, (("content-type", "image/png"),), stored.data)


def _read_form(request: httpx.Request) -> Form | MultipartError:
    try:
        return parse_form(request.headers.get("content-type", ""), request.content)
    except MultipartError as exc:
        return exc


def _text_fields(form: Form | MultipartError | None) -> tuple[tuple[str, str], ...]:
    """The first value of each text field, for the request log (prompts tell jobs apart)."""
    if not isinstance(form, Form):
        return ()
    return tuple((name, values[0]) for name, values in form.fields.items() if values)


def _raw_digest(request: httpx.Request) -> str | None:
    """The request as sent, less its random multipart boundary, and the key it came with."""
    content_type = request.headers.get("content-type", "")
    _, _, boundary = content_type.partition("boundary=")
    boundary = boundary.split(";")[0].strip().strip('"')
    if not boundary:
        return None
    h = hashlib.sha256(request.headers.get("authorization", "").encode())
    h.update(b"\0" + content_type.replace(boundary, "").encode() + b"\0")
    h.update(request.content.replace(boundary.encode(), b""))
    return h.hexdigest()


def _digest(form: Form) -> str:
    """Same fields and same file bytes, same digest; multipart boundaries play no part."""
    h = hashlib.sha256()
    for name, values in sorted(form.fields.items()):
        h.update(json.dumps([name, values]).encode())
    for part in form.files:
        h.update(json.dumps([part.name, part.filename, part.media_type]).encode())
        h.update(hashlib.sha256(part.data).digest())
    return h.hexdigest()


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    read = timeout.get("read") if isinstance(timeout, dict) else None
    return float(read) if isinstance(read, (int, float)) else None


def _download_param(fault: Fault | None) -> str | None:
    if fault is None:
        return None
    return fault.params.get("bytes") if fault.kind == "oversize" else fault.params.get("type")


def _file_url(request_url: httpx.URL, file_id: str, created: int) -> str:
    """On the host the request came to, so it works in-process and on loopback alike."""
    query = f"Expires={created + URL_LIFETIME}&Signature={file_id[:16]}"
    return str(request_url.copy_with(path=f"{FILES_PREFIX}{file_id}.png", query=query.encode()))


# -- faults that replace the answer -----------------------------------------------------------


def _fault_reply(fault: Fault) -> Reply:
    if fault.kind == "reset":
        return Reply(0, (), reset=True)
    if fault.kind == "html":
        return Reply(
            int(fault.number("status", 200)),
            (("content-type", "text/html; charset=utf-8"),),
            HTML_PAGE,
        )
    if fault.kind == "redirect":
        status = int(fault.number("status", 301))
        target = fault.params.get("to", DEFAULT_REDIRECT)
        body = f'<html><body>Moved: <a href="{target}">{target}</a></body></html>'.encode()
        return Reply(
            status,
            (("location", target), ("content-type", "text/html; charset=utf-8")),
            body,
        )
    status = fault.status or 500
    headers = _retry_headers(fault)
    if fault.params.get("body") == "html":
        phrase = _phrase(status)
        page = (
            f"<html><head><title>{status} {phrase}</title></head><body><center><h1>{status} "
            f"{phrase}</h1></center><hr><center>imgedit emulator</center></body></html>"
        )
        return Reply(status, (("content-type", "text/html"), *headers), page.encode())
    return error_reply(_fault_error(fault, status), headers)


def _fault_error(fault: Fault, status: int) -> RouteError:
    if fault.kind == "invalid-request":
        message = fault.params.get("message", "invalid request")
        return comet_error(500, message, code="invalid_request")
    if status == 429 and "type" not in fault.params:  # error-rate-limit.json
        return field_error(
            fault.params.get("message", "Rate limit reached for requests"),
            param=None,
            code=fault.params.get("code", "rate_limit_exceeded"),
            status=429,
            type="requests",
        )
    message, code = _STATUS_MESSAGES.get(status, (_phrase(status).lower(), ""))
    message = fault.params.get("message", message)
    code = fault.params.get("code", code)
    if "type" in fault.params:
        return field_error(
            message, param=None, code=code or None, status=status, type=fault.params["type"]
        )
    return comet_error(status, message, code=code)


def _retry_headers(fault: Fault) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    after = fault.params.get("retry-after")
    if after is None and fault.status == 429 and "retry-after-ms" not in fault.params:
        after = "1"
    if after not in (None, "none"):
        headers.append(("retry-after", after))
    after_ms = fault.params.get("retry-after-ms")
    if after_ms is not None:
        headers.append(("retry-after-ms", after_ms))
    return tuple(headers)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "A Timeout Occurred" if status == 524 else "Error"


# -- faults that damage an answer ---------------------------------------------------------------


def _damage(reply: Reply, fault: Fault) -> Reply:
    if fault.kind == "bad-b64":
        return _corrupt_b64(reply)
    at = int(fault.number("at", len(reply.body) // 2))
    at = min(at, max(len(reply.body) - 1, 0))
    if fault.kind == "truncate":
        return reply.with_(body=reply.body[:at])
    return reply.with_(cut_at=at)  # early-close


def _corrupt_b64(reply: Reply) -> Reply:
    try:
        body: Any = json.loads(reply.body)
    except ValueError:
        return reply
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return reply
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
            item["b64_json"] = item["b64_json"][:16] + "%%not*base64%%"
    return reply.with_(body=json.dumps(body).encode())

"""Reading a built request back: what the conformance kit asserts, and a safe view to print.

Multipart bodies are parsed with the standard library's email parser, so the check does not
trust the same code that wrote them.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import httpx

from .redact import REDACTED, SECRET_HEADER


@attrs.frozen
class FilePart:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes = attrs.field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@attrs.frozen
class WireRequest:
    method: str
    url: str
    headers: dict[str, str]
    """Secret headers are redacted."""
    content_type: str
    fields: dict[str, list[str]]
    """Form fields (or top-level JSON keys, JSON-encoded unless they are strings)."""
    files: list[FilePart]
    json_body: Any = None

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None

    def files_named(self, name: str) -> list[FilePart]:
        return [f for f in self.files if f.name == name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "content_type": self.content_type,
            "fields": {
                k: _short(v[0]) if len(v) == 1 else [_short(x) for x in v]
                for k, v in self.fields.items()
            },
            "files": [
                {
                    "name": f.name,
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "size": f.size,
                }
                for f in self.files
            ],
        }


_SHOWN_CHARS = 300


def _short(value: str) -> str:
    """A field too long to read (a data: URI holding an image) is shown by its size."""
    if len(value) <= _SHOWN_CHARS:
        return value
    return f"{value[:60]}... ({len(value)} characters)"


def decode_request(request: httpx.Request) -> WireRequest:
    """Decode a multipart or JSON request built by a provider."""
    body = request.read()
    ctype = request.headers.get("content-type", "")
    fields: dict[str, list[str]] = {}
    files: list[FilePart] = []
    json_body: Any = None
    if ctype.startswith("multipart/form-data"):
        fields, files = _parse_multipart(ctype, body)
    elif ctype.startswith("application/json"):
        json_body = json.loads(body)
        if isinstance(json_body, dict):
            for key, value in json_body.items():
                text = value if isinstance(value, str) else json.dumps(value)
                fields[key] = [text]
    headers = {k: (REDACTED if SECRET_HEADER.search(k) else v) for k, v in request.headers.items()}
    return WireRequest(
        method=request.method,
        url=str(request.url),
        headers=headers,
        content_type=ctype.split(";")[0],
        fields=fields,
        files=files,
        json_body=json_body,
    )


def _parse_multipart(ctype: str, body: bytes) -> tuple[dict[str, list[str]], list[FilePart]]:
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, list[str]] = {}
    files: list[FilePart] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if filename is None:
            fields.setdefault(str(name), []).append(data.decode("utf-8"))
        else:
            files.append(
                FilePart(
                    name=str(name),
                    filename=str(filename),
                    content_type=part.get("content-type"),
                    data=data,
                )
            )
    return fields, files

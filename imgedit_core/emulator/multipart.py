"""Reading a multipart/form-data body with the standard library's email parser.

The emulator models the server, so it must not trust imgedit's own wire code: a body imgedit
wrote wrongly has to be refused here, not read back by the same mistake.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass, field


class MultipartError(ValueError):
    """The body is not a multipart/form-data body the route could read."""


@dataclass(frozen=True)
class Part:
    """One file part, as it crossed the wire."""

    name: str
    filename: str
    content_type: str | None
    data: bytes = field(repr=False)

    @property
    def media_type(self) -> str:
        """The declared media type without parameters, lower-cased ('' when absent)."""
        return (self.content_type or "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Form:
    """Text fields (every value, in order) and file parts (in order)."""

    fields: dict[str, list[str]]
    files: list[Part]

    def first(self, name: str) -> str | None:
        """The first value of a text field, as a form reader that takes one value does."""
        values = self.fields.get(name)
        return values[0] if values else None

    def files_named(self, *names: str) -> list[Part]:
        return [part for part in self.files if part.name in names]


def parse_form(content_type: str, body: bytes) -> Form:
    """Parse ``body`` sent with the ``content_type`` header; raise MultipartError if unreadable."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise MultipartError(
            f"the body is {media_type or 'of no declared type'}, not multipart/form-data"
        )
    if "boundary=" not in content_type.lower():
        raise MultipartError("the multipart/form-data content type has no boundary")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        names = ", ".join(type(d).__name__ for d in message.defects) or "no parts"
        raise MultipartError(f"the multipart body could not be read ({names})")
    fields: dict[str, list[str]] = {}
    files: list[Part] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise MultipartError("a part has no Content-Disposition name")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if isinstance(filename, str):
            files.append(Part(name, filename, part.get("content-type"), data))
        else:
            fields.setdefault(name, []).append(data.decode("utf-8", "replace"))
    return Form(fields, files)

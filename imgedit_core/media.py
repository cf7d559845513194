"""Media types, told from the bytes themselves.

A file's extension lies often enough (and a part sent as ``application/octet-stream`` is refused
by the route), so every image carries the type its first bytes prove.
"""

from __future__ import annotations

from typing import Final

PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
WEBP: Final = "image/webp"
GIF: Final = "image/gif"

#: How many leading bytes :func:`sniff_media_type` needs.
SNIFF_BYTES: Final = 12

_EXTENSIONS: Final = {PNG: "png", JPEG: "jpg", WEBP: "webp", GIF: "gif"}

#: ``output_format`` values as the route names them, to media types.
FORMAT_MEDIA_TYPES: Final = {"png": PNG, "jpeg": JPEG, "webp": WEBP}

_SUFFIX_FORMATS: Final = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


def sniff_media_type(head: bytes) -> str | None:
    """The image media type the leading bytes prove, or None when they prove none."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


def extension_for(media_type: str) -> str:
    """The usual file extension (without the dot) for a media type."""
    return _EXTENSIONS.get(media_type, "bin")


def format_for_suffix(suffix: str) -> str | None:
    """The ``output_format`` a file suffix such as ``.jpg`` asks for, if it names one."""
    return _SUFFIX_FORMATS.get(suffix.lower())


def describe_head(head: bytes) -> str:
    """A short printable view of leading bytes, for errors about files that are not images."""
    if not head:
        return "it is empty"
    return f"it starts with {head[:8]!r}"

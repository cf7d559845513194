"""What comes back: edited images whose bytes are decoded only when asked for."""

from __future__ import annotations

import base64
import binascii
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .errors import InvalidResponseError
from .files import write_atomic
from .media import extension_for, sniff_media_type
from .usage import Usage


@attrs.define(eq=False, repr=False)
class EditedImage:
    """One output image.

    ``b64_json`` answers are decoded on first access to :attr:`data`, once; URL answers are
    downloaded on first access, through the loader the client attached.
    """

    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None
    declared_media_type: str | None = None
    """The type the answer announced (from ``output_format``); the bytes have the last word."""
    loader: Callable[[str], bytes] | None = None
    async_loader: Callable[[str], Awaitable[bytes]] | None = None
    """Set by ``AsyncClient``: URL answers download through its pool, awaited in :meth:`aload`."""
    _data: bytes | None = attrs.field(default=None, alias="data")

    def __repr__(self) -> str:
        if self._data is not None:
            return f"EditedImage({self.media_type}, {len(self._data)} bytes)"
        url = url_without_query(self.url) if self.url else None
        source = "b64_json" if self.b64_json is not None else f"url={url!r}"
        return f"EditedImage({source})"

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = self._materialise()
            self.b64_json = None  # the decoded bytes replace the text; hold one copy only
        return self._data

    async def aload(self) -> bytes:
        """The bytes, downloading a URL answer without blocking the event loop."""
        pending = self._data is None and self.b64_json is None and self.url is not None
        if pending and self.async_loader is not None and self.url is not None:
            self._data = _checked_download(self.url, await self.async_loader(self.url))
        return self.data

    async def asave(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """:meth:`save` for async code: the download is awaited, the write is local."""
        await self.aload()
        return self.save(path, overwrite=overwrite)

    @property
    def media_type(self) -> str:
        if self._data is None and self.b64_json is None and self.declared_media_type:
            return self.declared_media_type
        return sniff_media_type(self.data[:16]) or self.declared_media_type or "image/png"

    @property
    def extension(self) -> str:
        return extension_for(self.media_type)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the image atomically; an existing file is kept unless ``overwrite``."""
        return write_atomic(path, self.data, overwrite=overwrite)

    def _materialise(self) -> bytes:
        if self.b64_json is not None:
            return decode_b64_image(self.b64_json)
        if self.url is not None:
            if self.loader is None:
                hint = (
                    "; await image.aload() first (an AsyncClient downloads asynchronously)"
                    if self.async_loader is not None
                    else " and no client is attached"
                )
                raise InvalidResponseError(
                    f"the image at {url_without_query(self.url)} was not downloaded{hint}"
                )
            return _checked_download(self.url, self.loader(self.url))
        raise InvalidResponseError("the answer holds an image with neither b64_json nor url")


def _checked_download(url: str, data: bytes) -> bytes:
    if sniff_media_type(data[:16]) is None:
        raise InvalidResponseError(
            f"the file downloaded from {url_without_query(url)} is not an image"
        )
    return data


def url_without_query(url: str) -> str:
    """Signed result URLs carry credentials in the query: errors show the rest only."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _strict_b64decode(text: str) -> bytes:
    """Strict base64 straight from the str: ``b64decode`` would first copy it to ASCII bytes,
    a third full copy of a 16 MB answer at the moment memory peaks."""
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(text, strict_mode=True)
    return base64.b64decode(text, validate=True)  # pragma: no cover - Python 3.10


def decode_b64_image(text: str) -> bytes:
    """Strict base64, but tolerant of what gateways wrap it in: a data URL prefix, line breaks."""
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        data = _strict_b64decode(text)
    except (binascii.Error, ValueError):
        # Only now pay for a whitespace-free copy: most answers have no line breaks at all.
        try:
            data = _strict_b64decode("".join(text.split()))
        except (binascii.Error, ValueError):
            raise InvalidResponseError("the answer's b64_json is not valid base64") from None
    if sniff_media_type(data[:16]) is None:
        raise InvalidResponseError("the answer's b64_json does not decode to an image")
    return data


@attrs.define(eq=False)
class EditResult:
    images: list[EditedImage]
    model: str
    provider: str
    created: int | None = None
    usage: Usage | None = None
    size: str | None = None
    output_format: str | None = None
    quality: str | None = None
    background: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    """Every top-level field of the answer except ``data``, unknown ones included."""
    attempts: int = 1
    """How many requests this answer took, retries included (set by the client)."""

    @property
    def image(self) -> EditedImage:
        """The first image: most edits ask for one."""
        return self.images[0]

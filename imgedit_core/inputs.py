"""Images going in: always with a filename and a media type proven by their bytes."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Union

import attrs

from .errors import InputError
from .media import SNIFF_BYTES, describe_head, extension_for, sniff_media_type

ImageSource = Union["ImageInput", str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes]]
"""What the API takes as an image: a path, raw bytes, a binary file object or an ImageInput."""


@attrs.frozen(repr=False)
class ImageInput:
    """One input image (or mask).

    A path-backed input is read when it is sent, not when it is made, so large uploads are not
    held twice; its type is sniffed from the first bytes up front, so a wrong file fails early.
    """

    filename: str
    media_type: str
    path: Path | None = None
    content: bytes | None = None
    size: int = 0

    def __repr__(self) -> str:
        source = str(self.path) if self.path is not None else "<bytes>"
        return f"ImageInput({source!r}, {self.media_type}, {self.size} bytes)"

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ImageInput:
        p = Path(path)
        try:
            with p.open("rb") as fh:
                head = fh.read(SNIFF_BYTES)
                size = os.fstat(fh.fileno()).st_size
        except FileNotFoundError:
            raise InputError(f"image file not found: {str(p)!r}. Check the path.") from None
        except IsADirectoryError:
            raise InputError(f"{str(p)!r} is a folder, not an image file.") from None
        except OSError as exc:
            raise InputError(f"cannot read image file {str(p)!r}: {exc.strerror}.") from None
        except ValueError:  # a NUL byte in the path: no file can have that name
            raise InputError(f"{str(p)!r} is not a usable file name.") from None
        media_type = _require_image(head, repr(str(p)))
        return cls(filename=p.name, media_type=media_type, path=p, size=size)

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, filename: str | None = None
    ) -> ImageInput:
        content = bytes(data)
        what = repr(filename) if filename else "the image bytes"
        media_type = _require_image(content[:SNIFF_BYTES], what)
        name = filename or f"image.{extension_for(media_type)}"
        return cls(filename=name, media_type=media_type, content=content, size=len(content))

    @classmethod
    def coerce(cls, source: ImageSource) -> ImageInput:
        """Accept any :data:`ImageSource` the public API takes."""
        if isinstance(source, ImageInput):
            return source
        if isinstance(source, (bytes, bytearray, memoryview)):
            return cls.from_bytes(source)
        if isinstance(source, (str, os.PathLike)):
            return cls.from_path(source)
        if hasattr(source, "read"):
            data = source.read()
            if not isinstance(data, (bytes, bytearray)):
                raise InputError("an image file object must be opened in binary mode ('rb').")
            name = getattr(source, "name", None)
            filename = Path(name).name if isinstance(name, str) else None
            return cls.from_bytes(data, filename)
        raise InputError(
            f"cannot use {type(source).__name__} as an image: give a path, bytes or a binary file."
        )

    def read(self) -> bytes:
        """The whole file, read now (paths are read at send time, not at construction)."""
        if self.content is not None:
            return self.content
        assert self.path is not None
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"cannot read image file {str(self.path)!r}: {exc.strerror}."
            ) from None

    def upload(self) -> bytes | DiskFile:
        """What a file part sends: the bytes held, or the file streamed from disk at send time
        (a 16 MB upload is never held whole in memory, and is re-read for a retry)."""
        if self.content is not None:
            return self.content
        assert self.path is not None
        try:
            size = self.path.stat().st_size  # now: the file may have been rewritten since
        except OSError as exc:
            raise InputError(
                f"cannot read image file {str(self.path)!r}: {exc.strerror}."
            ) from None
        return DiskFile(self.path, size)

    @property
    def label(self) -> str:
        """How errors name this input."""
        return str(self.path) if self.path is not None else self.filename


def _require_image(head: bytes, what: str) -> str:
    media_type = sniff_media_type(head)
    if media_type is None:
        raise InputError(
            f"{what} is not an image: {describe_head(head)}. Give a PNG, JPEG or WebP file."
        )
    return media_type


class DiskFile:
    """A read-only file httpx streams in chunks: opened on first read, closed at the end.

    Its length is known without opening it (``seek(0, SEEK_END)``), so the request carries a
    Content-Length; ``seek(0)`` starts over for the next attempt. A file that grows or shrinks
    while it is sent is an error rather than a silently different upload.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self.name = path.name
        self._fh: IO[bytes] | None = None
        self._pos = 0

    def __repr__(self) -> str:
        return f"DiskFile({str(self.path)!r}, {self.size} bytes)"

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END and offset == 0:
            return self.size  # the length, asked before sending; the position stays
        if whence == os.SEEK_SET and offset == self._pos:
            return offset
        if whence == os.SEEK_SET and offset == 0:
            self.close()
            self._pos = 0
            return 0
        raise io.UnsupportedOperation("a DiskFile only seeks to its start or its end")

    def read(self, n: int = -1) -> bytes:
        if self._fh is None:
            if self._pos:
                return b""  # read to the end already; seek(0) starts over
            try:
                self._fh = self.path.open("rb")
            except OSError as exc:
                raise InputError(
                    f"cannot read image file {str(self.path)!r}: {exc.strerror}."
                ) from None
        data = self._fh.read(n)
        self._pos += len(data)
        if self._pos > self.size or (not data and self._pos != self.size):
            self.close()
            raise InputError(
                f"{str(self.path)!r} changed while it was being sent ({self.size} bytes when "
                f"checked, {self._pos} by now); nothing was saved. Try again once the file is "
                f"complete."
            )
        if not data or (n < 0):
            self.close()
        return data

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

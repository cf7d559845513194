"""Images going in: always with a filename and a media type proven by their bytes."""

from __future__ import annotations

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

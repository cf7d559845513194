"""What an uploaded file really is, read from its bytes (Pillow is imported only when called)."""

from __future__ import annotations

import io
from dataclasses import dataclass

#: Decoders the route takes, by Pillow's format name.
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")


@dataclass(frozen=True)
class ImageFacts:
    format: str
    """Pillow's format name: PNG, JPEG, WEBP, GIF, ..."""
    width: int
    height: int
    has_alpha: bool

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


def probe_image(data: bytes) -> ImageFacts | None:
    """The image's format, size and alpha, or None when the bytes are not a readable image."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # a valid header followed by garbage is not an image either
            has_alpha = "A" in im.getbands() or "transparency" in im.info
            return ImageFacts(str(im.format), im.width, im.height, has_alpha)
    except Exception:  # Pillow raises many types for bad input; all mean "not an image"
        return None

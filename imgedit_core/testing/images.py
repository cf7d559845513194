"""Small real images for tests, made with Pillow so no binary files need shipping."""

from __future__ import annotations

import io


def make_image(
    width: int = 32, height: int = 32, *, fmt: str = "PNG", color: str = "steelblue"
) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, fmt)
    return buf.getvalue()


def make_mask(width: int = 32, height: int = 32, *, alpha: bool = True) -> bytes:
    """A PNG mask whose left half is transparent (the region to edit)."""
    from PIL import Image

    buf = io.BytesIO()
    if alpha:
        im = Image.new("RGBA", (width, height), (0, 0, 0, 255))
        im.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    else:
        im = Image.new("RGB", (width, height), "black")
    im.save(buf, "PNG")
    return buf.getvalue()

"""Dimensions and alpha of input images, read with Pillow (imported here, and only when needed)."""

from __future__ import annotations

import io

import attrs

from .errors import InputError
from .inputs import ImageInput


@attrs.frozen
class ImageInfo:
    width: int
    height: int
    has_alpha: bool


def image_info(image: ImageInput) -> ImageInfo:
    """Read the header only: Pillow opens lazily, so a 50 MB file is not decoded."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # a large header is judged below, not warned about
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if image.path is not None:
                with Image.open(image.path) as im:
                    return _info(im)
            with Image.open(io.BytesIO(image.read())) as im:
                return _info(im)
    except Image.DecompressionBombError as exc:
        raise InputError(
            f"{image.label!r} claims to be far larger than any edit route takes ({exc}); "
            f"check the file."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            f"{image.label!r} looks like {image.media_type} but cannot be read as an image ({exc})."
        ) from None


def _info(im: object) -> ImageInfo:
    from PIL import Image

    assert isinstance(im, Image.Image)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )
    return ImageInfo(width=im.width, height=im.height, has_alpha=has_alpha)

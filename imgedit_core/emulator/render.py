"""The emulator's visible, deterministic edit (Pillow, imported only when rendering).

It is an emulator, not a model: the edit is a recolouring that a person and a test can both see.
The masked region (fully transparent mask pixels) is recoloured and outlined, or the whole image
is tinted when there is no mask; the prompt is written across the bottom; a small
"imgedit emulator" label marks the top-left corner. Same inputs, same bytes.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

LABEL = "imgedit emulator"

#: Colour words the prompt may name; the first one found picks the tint.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 38, 38),
    "orange": (234, 118, 12),
    "yellow": (234, 200, 8),
    "gold": (212, 160, 23),
    "green": (22, 163, 74),
    "teal": (13, 148, 136),
    "cyan": (6, 182, 212),
    "blue": (37, 99, 235),
    "navy": (30, 58, 138),
    "purple": (147, 51, 234),
    "violet": (139, 92, 246),
    "magenta": (219, 39, 119),
    "pink": (236, 72, 153),
    "brown": (146, 64, 14),
    "black": (17, 17, 17),
    "white": (250, 250, 250),
    "grey": (120, 120, 120),
    "gray": (120, 120, 120),
    "silver": (192, 192, 192),
}

_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class RenderSpec:
    """Everything one output image depends on (hashable: renders are cached by it)."""

    images: tuple[bytes, ...] = field(repr=False)
    prompt: str
    size: tuple[int, int]
    mask: bytes | None = field(default=None, repr=False)
    output_format: str = "png"
    compression: int | None = None
    transparent: bool = False
    index: int = 0
    count: int = 1
    model: str = ""
    watermark: bool = False


def tint_colour(prompt: str, index: int = 0) -> tuple[int, int, int]:
    """The colour the prompt names, else one derived from its hash; rotated per result index."""
    rgb = next((COLOURS[w] for w in _WORD.findall(prompt.lower()) if w in COLOURS), None)
    if rgb is None:
        digest = hashlib.sha256(prompt.encode()).digest()
        rgb = _hsv(digest[0] / 255, 0.75, 0.85)
    if index:
        h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
        rgb = _hsv((h + 0.13 * index) % 1.0, max(s, 0.5), max(v, 0.5))
    return rgb


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


@functools.lru_cache(maxsize=32)
def render(spec: RenderSpec) -> bytes:
    """The edited image, encoded as ``spec.output_format``. Cached: same spec, same bytes."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

    width, height = spec.size
    with Image.open(io.BytesIO(spec.images[0])) as first:
        base = ImageOps.fit(first.convert("RGBA"), spec.size, Image.Resampling.BILINEAR)
    colour = tint_colour(spec.prompt, spec.index)
    solid = Image.new("RGBA", spec.size, (*colour, 255))

    if spec.mask is not None:
        with Image.open(io.BytesIO(spec.mask)) as mask_image:
            alpha = mask_image.convert("RGBA").getchannel("A")
        alpha = alpha.resize(spec.size, Image.Resampling.NEAREST)
        region = alpha.point(lambda a: 255 if a == 0 else 0)  # fully transparent: edit here
        edited = Image.composite(Image.blend(base, solid, 0.6), base, region)
        edges = region.filter(ImageFilter.FIND_EDGES)
        edges = ImageChops.lighter(edges, edges.filter(ImageFilter.MaxFilter(3)))
        edited.paste((*colour, 255), (0, 0), edges)
    else:
        edited = Image.blend(base, solid, 0.25)

    draw = ImageDraw.Draw(edited)
    short = min(width, height)
    _thumbnails(edited, spec.images[1:], short)
    band_top = _prompt_band(edited, draw, spec.prompt, short)
    _label(draw, spec, short)
    if spec.watermark:
        _watermark(draw, spec.size[0], band_top, short)

    if spec.transparent:
        frame = max(1, short // 96)  # a thin transparent frame: visible, hides nothing
        alpha = Image.new("L", spec.size, 0)
        ImageDraw.Draw(alpha).rectangle(
            (frame, frame, width - 1 - frame, height - 1 - frame), fill=255
        )
        edited.putalpha(ImageChops.multiply(edited.getchannel("A"), alpha))
    else:
        edited = edited.convert("RGB")
    return _encode(edited, spec.output_format, spec.compression)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=max(8, size))


def _thumbnails(image: Image.Image, others: tuple[bytes, ...], short: int) -> None:
    """The second and later input images, small in the top-right corner, so they show."""
    from PIL import Image, ImageOps

    side = max(8, short // 6)
    x = image.width - side - max(2, short // 64)
    for data in others:
        with Image.open(io.BytesIO(data)) as other:
            thumb = ImageOps.fit(other.convert("RGBA"), (side, side), Image.Resampling.BILINEAR)
        thumb = ImageOps.expand(thumb, border=max(1, side // 24), fill=(255, 255, 255, 255))
        image.paste(thumb, (x, max(2, short // 64)))
        x -= thumb.width + max(2, short // 64)


def _prompt_band(image: Image.Image, draw: ImageDraw.ImageDraw, prompt: str, short: int) -> int:
    """The prompt, wrapped to at most three lines on a dark band at the bottom; its top."""
    from PIL import Image

    font = _font(short // 22)
    pad = max(2, short // 48)
    lines = _wrap(draw, " ".join(prompt.split()), font, image.width - 2 * pad, max_lines=3)
    line_height = _text_height(draw, font) + pad // 2
    band_height = line_height * len(lines) + pad
    band = Image.new("RGBA", (image.width, band_height), (0, 0, 0, 150))
    top = image.height - band_height
    image.alpha_composite(band, (0, top))
    for i, line in enumerate(lines):
        draw.text((pad, top + pad // 2 + i * line_height), line, font=font, fill="white")
    return top


def _label(draw: ImageDraw.ImageDraw, spec: RenderSpec, short: int) -> None:
    font = _font(short // 40)
    pad = max(2, short // 96)
    parts = [LABEL, spec.model] if spec.model else [LABEL]
    if spec.count > 1:
        parts.append(f"{spec.index + 1}/{spec.count}")
    text = " · ".join(parts)
    x0, y0, x1, y1 = draw.textbbox((2 * pad, 2 * pad), text, font=font)
    draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), fill=(255, 255, 255, 210))
    draw.text((2 * pad, 2 * pad), text, font=font, fill=(20, 20, 20, 255))


def _watermark(draw: ImageDraw.ImageDraw, width: int, band_top: int, short: int) -> None:
    """qwen's ``watermark=true``: a mark bottom-right, just above the prompt band."""
    font = _font(short // 40)
    pad = max(2, short // 96)
    mark = "AI generated"
    x = width - draw.textlength(mark, font=font) - 2 * pad
    y = band_top - _text_height(draw, font) - 2 * pad
    draw.text(
        (x, y), mark, font=font, fill=(255, 255, 255, 235), stroke_width=1, stroke_fill="black"
    )


def _text_height(
    draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> int:
    box = draw.textbbox((0, 0), "Ag", font=font)
    return int(box[3] - box[1])


def _wrap(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
    *,
    max_lines: int,
) -> list[str]:
    """Greedy word wrap to ``width`` pixels; the last kept line ends with '…' if cut."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".,;: ") + " …"
    return lines or [""]


def _encode(image: Image.Image, output_format: str, compression: int | None) -> bytes:
    """jpeg/webp quality is ``output_compression`` (default 100; JPEG capped at Pillow's 95)."""
    buf = io.BytesIO()
    quality = 100 if compression is None else compression
    if output_format == "jpeg":
        image.convert("RGB").save(buf, "JPEG", quality=max(1, min(95, quality)))
    elif output_format == "webp":
        image.save(buf, "WEBP", quality=quality, method=0)
    else:
        image.save(buf, "PNG", compress_level=6)
    return buf.getvalue()

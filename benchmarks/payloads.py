"""Input images that do not compress (noise), made once and cached in benchmarks/.cache
(which ignores itself in git: it holds a ``.gitignore`` of ``*``).

The emulator answers at the requested ``size`` with a tinted copy of the input, so a noise
input of the same size as the answer gives an answer about as large as the input. The noise is
seeded: the same file every time, so a cached answer on the server stays valid.
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class PayloadSpec:
    """A ``width`` x ``height`` RGB noise PNG, each byte ``(random & mask) + offset``.

    ``mask`` sets how much of each byte is random (0xFF: all of it, 0xF0: 16 levels), which is
    how a given pixel count is made to weigh about 1 MB or 16 MB; ``answer_size`` is the
    ``size`` asked of gpt-image-2 (its free sizes need 655,360 to 8,294,400 pixels, sides in
    multiples of 16).
    """

    name: str
    width: int
    height: int
    mask: int
    offset: int = 0
    answer_size: str = ""
    seed: int = 7

    @property
    def size(self) -> str:
        return self.answer_size or f"{self.width}x{self.height}"

    @property
    def filename(self) -> str:
        return (
            f"{self.name}-{self.width}x{self.height}-m{self.mask:02x}o{self.offset}s{self.seed}.png"
        )


#: ~1.0 MB in, ~1.2 MB answer: 16-level noise at gpt-image-2's smallest free size.
ONE_MB = PayloadSpec("1mb", 1024, 640, mask=0xF0)
#: ~16.8 MB in, ~16.4 MB answer: full noise, 2368x2368 (5.6 Mpx, within the pixel budget).
SIXTEEN_MB = PayloadSpec("16mb", 2368, 2368, mask=0xFF)
#: ~4.6 KB in, ~37 KB answer: a flat image with a little noise, for the async rows and --smoke.
SMALL = PayloadSpec("small", 64, 64, mask=0x03, offset=100, answer_size="1024x640")


def ensure(spec: PayloadSpec, folder: Path = CACHE) -> Path:
    """The payload's path, generating it on first use."""
    path = folder / spec.filename
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# generated payloads, tens of MB: never committed\n*\n")
    data = render(spec)
    tmp = path.with_suffix(f".{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def render(spec: PayloadSpec) -> bytes:
    from PIL import Image

    table = bytes(((v & spec.mask) + spec.offset) & 0xFF for v in range(256))
    raw = random.Random(spec.seed).randbytes(spec.width * spec.height * 3).translate(table)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (spec.width, spec.height), raw).save(buffer, "PNG")
    return buffer.getvalue()

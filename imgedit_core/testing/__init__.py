"""The conformance kit every provider plugin passes, ours and third parties'.

Subclass :class:`ProviderConformance` in a test module, set ``provider``, and pytest runs the
whole suite against it with HTTP mocked by respx. Needs the ``imgedit[testing]`` extra.
"""

from ..wire import FilePart, WireRequest, decode_request
from .conformance import ProviderConformance
from .images import make_image, make_mask

__all__ = [
    "FilePart",
    "ProviderConformance",
    "WireRequest",
    "decode_request",
    "make_image",
    "make_mask",
]

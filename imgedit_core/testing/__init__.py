"""The conformance kit every provider plugin passes, ours and third parties'.

Subclass :class:`ProviderConformance` in a test module, set ``provider``, and pytest runs the
whole suite against it with HTTP mocked by respx. Needs the ``imgedit[testing]`` extra.
"""

import pytest

# The kit's asserts explain themselves in a third party's test run only if pytest rewrites them.
pytest.register_assert_rewrite("imgedit_core.testing.conformance")

from ..wire import FilePart, WireRequest, decode_request  # noqa: E402
from .conformance import ProviderConformance  # noqa: E402
from .images import make_image, make_mask  # noqa: E402

__all__ = [
    "FilePart",
    "ProviderConformance",
    "WireRequest",
    "decode_request",
    "make_image",
    "make_mask",
]

"""fal.ai's hosted qwen-image-edit endpoints as an imgedit provider plugin.

fal takes a JSON body (images as data URIs) rather than OpenAI's multipart form, and answers
``{"images": [{"url", ...}], "seed", ...}``; this package translates both ways.
"""

from ._version import __version__
from .models import ENDPOINTS, MODELS, Endpoint, endpoint_for
from .provider import FalProvider

__all__ = ["ENDPOINTS", "MODELS", "Endpoint", "FalProvider", "__version__", "endpoint_for"]

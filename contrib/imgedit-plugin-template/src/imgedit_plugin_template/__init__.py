"""A template imgedit provider plugin: one OpenAI-compatible gateway, one model.

Copy the package, rename it, and change what ``provider.py`` declares; the README says how.
"""

from .provider import MODELS, ExampleImagesProvider

__all__ = ["MODELS", "ExampleImagesProvider"]

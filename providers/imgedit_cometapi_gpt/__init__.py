"""CometAPI's image edit route for OpenAI's GPT image models."""

from .provider import CometGPTImageProvider

__all__ = ["CometGPTImageProvider"]

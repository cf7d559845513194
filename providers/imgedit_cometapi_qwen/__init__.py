"""CometAPI's image edit route for Alibaba's qwen-image-edit models."""

from .provider import CometQwenImageEditProvider

__all__ = ["CometQwenImageEditProvider"]

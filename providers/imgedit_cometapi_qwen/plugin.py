"""The entry point: ``cometapi-qwen-image-edit = "imgedit_cometapi_qwen.plugin"``."""

from __future__ import annotations

from collections.abc import Callable

from imgedit_core import Provider, hookimpl

from .provider import CometQwenImageEditProvider


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    register(CometQwenImageEditProvider())

"""The entry point: ``imgedit = ... cometapi-gpt-image = "imgedit_cometapi_gpt.plugin"``."""

from __future__ import annotations

from collections.abc import Callable

from imgedit_core import Provider, hookimpl

from .provider import CometGPTImageProvider


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    register(CometGPTImageProvider())

"""The entry point's module: ``fal = "imgedit_fal.plugin"``."""

from __future__ import annotations

from collections.abc import Callable

from imgedit_core import Provider, hookimpl

from .provider import FalProvider


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    register(FalProvider())

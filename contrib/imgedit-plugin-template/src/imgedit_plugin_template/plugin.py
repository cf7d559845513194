"""The entry point's module: ``example-images = "imgedit_plugin_template.plugin"``.

Keep it this small. imgedit imports it only when a command needs providers, and whatever it
raises marks this plugin failed in ``imgedit plugins`` without breaking the others.
"""

from __future__ import annotations

from collections.abc import Callable

from imgedit_core import Provider, hookimpl

from .provider import ExampleImagesProvider


@hookimpl  # without it pluggy never sees the function, and the plugin registers nothing
def register_providers(register: Callable[[Provider], None]) -> None:
    register(ExampleImagesProvider())

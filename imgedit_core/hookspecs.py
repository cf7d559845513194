"""The hooks a plugin may implement.

Like simonw/llm, a hook hands the plugin a ``register`` callback instead of asking for a
return value: one plugin can register several providers, and a hook can grow arguments
without breaking plugins (pluggy lets an implementation take a subset of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .provider import Provider

PROJECT = "imgedit"
ENTRY_POINT_GROUP = "imgedit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorate a plugin's hook functions with this: ``@imgedit_core.hookimpl``."""


@hookspec
def register_providers(register: Callable[[Provider], None]) -> None:
    """Call ``register(provider)`` once for each provider this plugin offers."""

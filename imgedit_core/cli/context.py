"""What the ``imgedit`` group's own options hand to every command: today, the config file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..async_client import AsyncClient
    from ..client import Client


def config_path() -> str | None:
    """``imgedit --config PATH``; None lets the usual lookup (IMGEDIT_CONFIG, files) decide."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("config"):
            return str(ctx.obj["config"])
        ctx = ctx.parent
    return None


def make_client(**kwargs: Any) -> Client:
    from ..client import Client

    return Client(config=config_path(), **kwargs)


def make_async_client(**kwargs: Any) -> AsyncClient:
    from ..async_client import AsyncClient

    return AsyncClient(config=config_path(), **kwargs)

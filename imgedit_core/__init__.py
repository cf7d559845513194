"""imgedit: prompt-driven image editing across providers.

Public names are exported here and nowhere else is promised. They load on first use, so that
``imgedit --help`` and ``import imgedit_core`` stay cheap (no httpx, no Pillow).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .capabilities import Capabilities, SizeRule
    from .client import Client, PreparedEdit, edit
    from .errors import (
        AmbiguousModelError,
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        CapabilityError,
        ConfigError,
        ConflictError,
        ImgeditError,
        InputError,
        InvalidResponseError,
        NotFoundError,
        OutputError,
        PermissionDeniedError,
        PluginError,
        RateLimitError,
        ServerError,
        UnknownModelError,
        UnknownProviderError,
        UnprocessableEntityError,
        UserError,
    )
    from .hookspecs import hookimpl
    from .inputs import ImageInput, ImageSource
    from .plugins import PluginFailure, PluginInfo, PluginSet, load_plugins
    from .provider import ModelSpec, Provider, ProviderSettings
    from .registry import Registry, Resolved
    from .request import EditRequest
    from .result import EditedImage, EditResult
    from .sentinel import NOT_GIVEN, Maybe, NotGiven
    from .usage import Usage
    from .validation import check_request

_EXPORTS: dict[str, str] = {
    "Capabilities": "capabilities",
    "SizeRule": "capabilities",
    "Client": "client",
    "PreparedEdit": "client",
    "edit": "client",
    "hookimpl": "hookspecs",
    "ImageInput": "inputs",
    "ImageSource": "inputs",
    "PluginFailure": "plugins",
    "PluginInfo": "plugins",
    "PluginSet": "plugins",
    "load_plugins": "plugins",
    "ModelSpec": "provider",
    "Provider": "provider",
    "ProviderSettings": "provider",
    "Registry": "registry",
    "Resolved": "registry",
    "EditRequest": "request",
    "EditedImage": "result",
    "EditResult": "result",
    "NOT_GIVEN": "sentinel",
    "Maybe": "sentinel",
    "NotGiven": "sentinel",
    "Usage": "usage",
    "check_request": "validation",
}
for _name in (
    "AmbiguousModelError APIConnectionError APIError APIStatusError APITimeoutError "
    "AuthenticationError BadRequestError CapabilityError ConfigError ConflictError ImgeditError "
    "InputError InvalidResponseError NotFoundError OutputError PermissionDeniedError PluginError "
    "RateLimitError ServerError UnknownModelError UnknownProviderError UnprocessableEntityError "
    "UserError"
).split():
    _EXPORTS[_name] = "errors"

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imgedit_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

"""imgedit: prompt-driven image editing across providers.

Public names are exported here and nowhere else is promised. They load on first use, so that
``imgedit --help`` and ``import imgedit_core`` stay cheap (no httpx, no Pillow).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .async_client import AsyncClient as AsyncClient
    from .capabilities import Capabilities as Capabilities
    from .capabilities import SizeRule as SizeRule
    from .client import Client as Client
    from .client import PreparedEdit as PreparedEdit
    from .client import edit as edit
    from .config import Config as Config
    from .config import ProviderEntry as ProviderEntry
    from .config import load_config as load_config
    from .errors import AmbiguousModelError as AmbiguousModelError
    from .errors import APIConnectionError as APIConnectionError
    from .errors import APIError as APIError
    from .errors import APIStatusError as APIStatusError
    from .errors import APITimeoutError as APITimeoutError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import BadRequestError as BadRequestError
    from .errors import CapabilityError as CapabilityError
    from .errors import ConfigError as ConfigError
    from .errors import ConflictError as ConflictError
    from .errors import ImgeditError as ImgeditError
    from .errors import InputError as InputError
    from .errors import InvalidResponseError as InvalidResponseError
    from .errors import NotFoundError as NotFoundError
    from .errors import OutputError as OutputError
    from .errors import PermissionDeniedError as PermissionDeniedError
    from .errors import PluginError as PluginError
    from .errors import RateLimitError as RateLimitError
    from .errors import RedirectError as RedirectError
    from .errors import RequestTimeoutError as RequestTimeoutError
    from .errors import ServerError as ServerError
    from .errors import UnknownModelError as UnknownModelError
    from .errors import UnknownProviderError as UnknownProviderError
    from .errors import UnprocessableEntityError as UnprocessableEntityError
    from .errors import UserError as UserError
    from .errors import error_class_for_status as error_class_for_status
    from .hookspecs import hookimpl as hookimpl
    from .inputs import ImageInput as ImageInput
    from .inputs import ImageSource as ImageSource
    from .instances import ProviderInstance as ProviderInstance
    from .keys import KeyStore as KeyStore
    from .openai_compat import OpenAICompatibleProvider as OpenAICompatibleProvider
    from .openai_compat import build_multipart_edit as build_multipart_edit
    from .openai_compat import parse_images_response as parse_images_response
    from .openai_compat import parse_openai_error as parse_openai_error
    from .plugins import PluginFailure as PluginFailure
    from .plugins import PluginInfo as PluginInfo
    from .plugins import PluginSet as PluginSet
    from .plugins import load_plugins as load_plugins
    from .provider import ModelSpec as ModelSpec
    from .provider import Provider as Provider
    from .provider import ProviderSettings as ProviderSettings
    from .ratelimit import RateLimiter as RateLimiter
    from .registry import Registry as Registry
    from .registry import Resolved as Resolved
    from .request import EditRequest as EditRequest
    from .result import EditedImage as EditedImage
    from .result import EditResult as EditResult
    from .retry import RetryPolicy as RetryPolicy
    from .sentinel import NOT_GIVEN as NOT_GIVEN
    from .sentinel import Maybe as Maybe
    from .sentinel import NotGiven as NotGiven
    from .usage import Usage as Usage
    from .validation import check_request as check_request
    from .wire import FilePart as FilePart
    from .wire import WireRequest as WireRequest
    from .wire import decode_request as decode_request

_EXPORTS: dict[str, str] = {
    "Capabilities": "capabilities",
    "SizeRule": "capabilities",
    "AsyncClient": "async_client",
    "Client": "client",
    "PreparedEdit": "client",
    "edit": "client",
    "Config": "config",
    "ProviderEntry": "config",
    "load_config": "config",
    "ProviderInstance": "instances",
    "KeyStore": "keys",
    "RateLimiter": "ratelimit",
    "RetryPolicy": "retry",
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
    "OpenAICompatibleProvider": "openai_compat",
    "build_multipart_edit": "openai_compat",
    "parse_images_response": "openai_compat",
    "parse_openai_error": "openai_compat",
    "WireRequest": "wire",
    "FilePart": "wire",
    "decode_request": "wire",
    "error_class_for_status": "errors",
    "RedirectError": "errors",
    "RequestTimeoutError": "errors",
}
for _name in [
    "AmbiguousModelError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CapabilityError",
    "ConfigError",
    "ConflictError",
    "ImgeditError",
    "InputError",
    "InvalidResponseError",
    "NotFoundError",
    "OutputError",
    "PermissionDeniedError",
    "PluginError",
    "RateLimitError",
    "ServerError",
    "UnknownModelError",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "UserError",
]:
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

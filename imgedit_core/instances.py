"""Provider instances: an installed provider under a new name with other settings.

``[providers.openai] uses = "cometapi-gpt-image"`` makes ``openai`` a provider of its own: the
same models and wire format, its own base URL, key variable and name in results and errors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from .errors import ConfigError
from .provider import ModelSpec, Provider, ProviderSettings

if TYPE_CHECKING:
    import httpx

    from .config import Config, ProviderEntry
    from .errors import APIError
    from .request import EditRequest
    from .result import EditResult


log = logging.getLogger("imgedit.config")


class ProviderInstance(Provider):
    """Delegates the translation to ``base``; only the identity and the settings differ."""

    def __init__(self, base: Provider, entry: ProviderEntry) -> None:
        self.base = base
        self.name = entry.name
        self.description = entry.description or f"{base.name} at {entry.base_url}"
        self.default_base_url = entry.base_url or base.default_base_url
        self.base_url_env = entry.base_url_env
        self.key_env = entry.key_env

    def models(self) -> Sequence[ModelSpec]:
        return self.base.models()

    def build_request(self, request: EditRequest, settings: ProviderSettings) -> httpx.Request:
        return self.base.build_request(request, settings)

    def parse_response(self, response: httpx.Response, request: EditRequest) -> EditResult:
        return attrs.evolve(self.base.parse_response(response, request), provider=self.name)

    def parse_error(self, response: httpx.Response) -> APIError:
        error = self.base.parse_error(response)
        error.renamed(self.name)
        return error

    def __repr__(self) -> str:
        return f"<provider {self.name} (uses {self.base.name})>"


def build_instances(config: Config, providers: Sequence[Provider]) -> list[Provider]:
    """The instances ``[providers.NAME] uses = ...`` tables ask for, checked against plugins."""
    installed = {p.name: p for p in providers}
    made: list[Provider] = []
    for entry in config.providers.values():
        where = config.origin(f"providers.{entry.name}.uses") or "config"
        if entry.uses is None:
            if entry.name not in installed:
                log.warning(
                    "%s: [providers.%s] sets up a provider that is not installed; add "
                    'uses = "<installed provider>" to make it a new instance, or see '
                    "`imgedit plugins`",
                    config.origin(f"providers.{entry.name}.base_url") or "config",
                    entry.name,
                )
            continue
        if entry.name in installed:
            raise ConfigError(
                f"{where}: providers.{entry.name} has uses = {entry.uses!r}, but "
                f"{entry.name!r} is an installed provider's name; give the instance a name "
                f"of its own."
            )
        base = installed.get(entry.uses)
        if base is None:
            raise ConfigError(
                f"{where}: providers.{entry.name}.uses names {entry.uses!r}, which is not an "
                f"installed provider (installed: {', '.join(sorted(installed)) or 'none'}); "
                f"`imgedit plugins` shows what loaded."
            )
        made.append(ProviderInstance(base, entry))
    return made

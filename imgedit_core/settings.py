"""Where a provider's base URL and key come from: explicit values, then the environment."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ConfigError
from .provider import Provider, ProviderSettings

DEFAULT_MODEL = "gpt-image-2"
MODEL_ENV = "IMGEDIT_MODEL"


def default_model(environ: Mapping[str, str]) -> str:
    return environ.get(MODEL_ENV) or DEFAULT_MODEL


def resolve_settings(
    provider: Provider,
    environ: Mapping[str, str],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    require_key: bool = True,
) -> ProviderSettings:
    url = base_url or (environ.get(provider.base_url_env) if provider.base_url_env else None)
    url = url or provider.default_base_url
    if not url.startswith(("http://", "https://")):
        source = provider.base_url_env or "base_url"
        raise ConfigError(
            f"base URL {url!r} (from {source}) is not an http(s) URL; "
            f"use e.g. {provider.default_base_url}."
        )
    key = api_key or (environ.get(provider.key_env) if provider.key_env else None)
    if require_key and provider.key_env and not key:
        raise ConfigError(
            f"no API key for provider {provider.name}: set {provider.key_env}, "
            f"e.g. `export {provider.key_env}=sk-...`."
        )
    return ProviderSettings(base_url=url, api_key=key or None)

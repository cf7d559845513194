"""Where a provider's base URL, key and limits come from: flags, environment, config, defaults.

One precedence everywhere: an explicit value (flag or argument) beats the environment, which
beats the config files (project over user), which beat the built-in defaults. Keys add one step
after the environment: a key stored with ``imgedit keys set``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .provider import Provider, ProviderSettings

if TYPE_CHECKING:
    from .capabilities import Capabilities
    from .config import Config, ProviderEntry
    from .keys import KeyStore
    from .registry import Resolved

DEFAULT_MODEL = "gpt-image-2"
MODEL_ENV = "IMGEDIT_MODEL"
TIMEOUT_ENV = "IMGEDIT_TIMEOUT"
MAX_RETRIES_ENV = "IMGEDIT_MAX_RETRIES"
OFFLINE_ENV = "IMGEDIT_OFFLINE"
OFFLINE_KEY = "imgedit-offline"


def default_model(environ: Mapping[str, str], config: Config | None = None) -> str:
    configured = config.defaults.get("model") if config is not None else None
    return environ.get(MODEL_ENV) or configured or DEFAULT_MODEL


def key_env_for(provider: Provider, entry: ProviderEntry | None = None) -> str | None:
    return (entry.key_env if entry is not None else None) or provider.key_env


def resolve_settings(
    provider: Provider,
    environ: Mapping[str, str],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    require_key: bool = True,
    entry: ProviderEntry | None = None,
    keys: KeyStore | None = None,
) -> ProviderSettings:
    url_env = (entry.base_url_env if entry is not None else None) or provider.base_url_env
    configured_url = entry.base_url if entry is not None else None
    url = base_url or (environ.get(url_env) if url_env else None) or configured_url
    url = url or provider.default_base_url
    if not url.startswith(("http://", "https://")):
        source = "base_url" if base_url else (url_env or "config")
        raise ConfigError(
            f"base URL {url!r} (from {source}) is not an http(s) URL; "
            f"use e.g. {provider.default_base_url}."
        )
    key_env = key_env_for(provider, entry)
    key = api_key or (environ.get(key_env) if key_env else None)
    if not key and key_env and keys is not None:
        key = keys.get(key_env)
    if require_key and key_env and not key:
        raise ConfigError(
            f"no API key for provider {provider.name}: set {key_env} "
            f"(`export {key_env}=...`) or store it with `imgedit keys set {key_env}`."
        )
    return ProviderSettings(
        base_url=url,
        api_key=key or None,
        headers=dict(entry.headers) if entry is not None else {},
    )


def transport_limits(
    environ: Mapping[str, str], config: Config | None, entry: ProviderEntry | None
) -> tuple[Any, int | None]:
    """(timeout, max_retries) from the environment, the provider's table, then [defaults]."""
    timeout: Any = environ.get(TIMEOUT_ENV) or None
    retries: Any = environ.get(MAX_RETRIES_ENV) or None
    if timeout is not None:
        from .errors import UserError
        from .transport import coerce_timeout

        try:
            coerce_timeout(timeout)
        except UserError as exc:
            raise ConfigError(f"{TIMEOUT_ENV}={timeout!r}: {exc}") from None
    if retries is not None:
        try:
            retries = int(retries)
            if retries < 0:
                raise ValueError(retries)
        except ValueError:
            raise ConfigError(
                f"{MAX_RETRIES_ENV}={retries!r} is not a whole number of 0 or more; "
                f"set it to e.g. 2."
            ) from None
    layers: list[tuple[Any, Any]] = []
    if entry is not None:
        layers.append((entry.timeout, entry.max_retries))
    if config is not None:
        layers.append((config.defaults.get("timeout"), config.defaults.get("max_retries")))
    for layer_timeout, layer_retries in layers:
        timeout = layer_timeout if timeout is None else timeout
        retries = layer_retries if retries is None else retries
    return timeout, retries


def configured_options(config: Config, resolved: Resolved) -> dict[str, tuple[Any, str]]:
    """Edit options from config, each with the dotted key that set it: ``[defaults]`` where the
    model has the option at all, then ``[models."NAME"]`` (meant for that model, so checked
    like flags) under its name, the id sent, or the alias asked for."""
    caps = resolved.spec.capabilities
    options = {
        k: (v, f"defaults.{k}") for k, v in config.default_options().items() if _has_option(caps, k)
    }
    for name in dict.fromkeys((resolved.spec.name, resolved.model, resolved.asked)):
        for key, value in config.models.get(name, {}).items():
            options[key] = (value, f"models.{name}.{key}")
    return options


def _has_option(caps: Capabilities, name: str) -> bool:
    return {
        "quality": bool(caps.qualities),
        "size": bool(caps.sizes) or caps.custom_sizes is not None,
        "output_format": bool(caps.output_formats),
        "output_compression": caps.output_compression,
        "background": bool(caps.backgrounds),
        "input_fidelity": bool(caps.input_fidelities),
        "response_format": bool(caps.response_formats),
        "user": caps.user,
    }.get(name, True)

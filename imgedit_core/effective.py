"""The settings an edit would use, each with where it came from: ``imgedit config show``.

It follows the same precedence the client applies (flag > environment > project file > user
file > default) so that what it shows is what happens. Key values are never shown: only where
a key would come from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from .redact import REDACTED, SECRET_HEADER
from .settings import (
    DEFAULT_MODEL,
    MAX_RETRIES_ENV,
    MODEL_ENV,
    OFFLINE_ENV,
    TIMEOUT_ENV,
    key_env_for,
)

if TYPE_CHECKING:
    from .client import Client
    from .config import Config


@attrs.frozen
class Setting:
    key: str
    value: Any
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "source": self.source}


def effective_settings(client: Client) -> list[Setting]:
    return list(_settings(client))


def _settings(client: Client) -> Iterator[Setting]:
    config = client.config
    environ = client.environ
    yield _layered("defaults.model", environ, MODEL_ENV, config, DEFAULT_MODEL)
    yield _layered("defaults.timeout", environ, TIMEOUT_ENV, config, "read/write 600, connect 10")
    yield _layered("defaults.max_retries", environ, MAX_RETRIES_ENV, config, 2)
    yield _layered("defaults.offline", environ, OFFLINE_ENV, config, False)
    for key, value in sorted(config.default_options().items()):
        yield Setting(f"defaults.{key}", value, _file(config, f"defaults.{key}"))
    for model, options in sorted(config.models.items()):
        for key, value in sorted(options.items()):
            yield Setting(f"models.{model}.{key}", value, _file(config, f"models.{model}.{key}"))
    for alias, target in sorted(config.aliases.items()):
        yield Setting(f"aliases.{alias}", target, _file(config, f"aliases.{alias}"))
    for model, target in sorted(config.routes.items()):
        yield Setting(f"routes.{model}", target, _file(config, f"routes.{model}"))
    for provider in client.registry.providers:
        yield from _provider(client, provider.name)


def _provider(client: Client, name: str) -> Iterator[Setting]:
    config = client.config
    environ = client.environ
    provider = client.registry.provider(name)
    entry = config.providers.get(name)
    prefix = f"providers.{name}"
    if entry is not None and entry.uses:
        yield Setting(f"{prefix}.uses", entry.uses, _file(config, f"{prefix}.uses"))
    url_env = (entry.base_url_env if entry else None) or provider.base_url_env
    if url_env and environ.get(url_env):
        yield Setting(f"{prefix}.base_url", environ[url_env], f"env {url_env}")
    elif entry is not None and entry.base_url:
        yield Setting(f"{prefix}.base_url", entry.base_url, _file(config, f"{prefix}.base_url"))
    else:
        yield Setting(f"{prefix}.base_url", provider.default_base_url, "default")
    key_env = key_env_for(provider, entry)
    if key_env:
        source = _file(config, f"{prefix}.key_env") if entry and entry.key_env else "default"
        yield Setting(f"{prefix}.key_env", key_env, source)
        yield Setting(f"{prefix}.key", *_key_state(client, key_env))
    for field in ("timeout", "max_retries"):
        value = getattr(entry, field) if entry is not None else None
        if value is not None:
            yield Setting(f"{prefix}.{field}", value, _file(config, f"{prefix}.{field}"))
    if entry is not None:
        for header, value in sorted(entry.headers.items()):
            shown = REDACTED if SECRET_HEADER.search(header) else value
            yield Setting(f"{prefix}.headers.{header}", shown, _file(config, f"{prefix}.headers"))


def _key_state(client: Client, key_env: str) -> tuple[str, str]:
    if client.explicit_api_key:
        return "set", "flag"
    if client.environ.get(key_env):
        return "set", f"env {key_env}"
    keys = client.keys
    where = keys.where(key_env) if keys is not None else None
    if where == "file" and keys is not None:
        return "set", f"key file {keys.path}"
    if where == "keyring":
        return "set", "OS keyring"
    return "missing", f"set {key_env} or run `imgedit keys set {key_env}`"


def _layered(key: str, environ: Any, env: str, config: Config, default: Any) -> Setting:
    if environ.get(env):
        return Setting(key, environ[env], f"env {env}")
    name = key.split(".", 1)[1]
    if name in config.defaults:
        return Setting(key, config.defaults[name], _file(config, key))
    return Setting(key, default, "default")


def _file(config: Config, key: str) -> str:
    return config.origin(key) or "config"

"""imgedit.toml: defaults, aliases, provider settings and instances, and routes.

Files are found by :func:`config_files` and layered project over user; flags and the
environment are laid over the result where the value is used (see :mod:`imgedit_core.settings`).
Every value remembers the file it came from, so ``imgedit config show`` can say why a setting is
what it is, and every mistake names the file, the key and the fix.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .errors import ConfigError
from .request import OPTION_FIELDS

CONFIG_ENV = "IMGEDIT_CONFIG"
PROJECT_FILE = "imgedit.toml"
USER_FILE = "config.toml"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def user_config_dir() -> Path:
    """The per-user folder (``~/.config/imgedit`` on Linux, honouring XDG_CONFIG_HOME).

    On Linux the XDG rule is applied here, as platformdirs applies it: importing platformdirs
    costs every edit a few milliseconds of start-up for two lines of logic.
    """
    if sys.platform == "linux" and "ANDROID_DATA" not in os.environ:
        base = os.environ.get("XDG_CONFIG_HOME", "")
        return Path(base if base.strip() else os.path.expanduser("~/.config")) / "imgedit"
    import platformdirs

    return Path(platformdirs.user_config_dir("imgedit", appauthor=False))


@attrs.frozen
class ConfigFile:
    path: Path
    role: str
    """How it was found: ``--config``, ``IMGEDIT_CONFIG``, ``project`` or ``user``."""


def config_files(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> list[ConfigFile]:
    """The files that apply, lowest precedence first: the user file, then the project file.

    ``--config`` or ``IMGEDIT_CONFIG`` name the project-level file instead of ``./imgedit.toml``
    and must exist; the others are used when present.
    """
    environ = os.environ if environ is None else environ
    found: list[ConfigFile] = []
    user = user_config_dir() / USER_FILE
    if user.is_file():
        found.append(ConfigFile(user, "user"))
    if explicit is not None:
        found.append(_must_exist(Path(explicit), "--config"))
    elif environ.get(CONFIG_ENV):
        found.append(_must_exist(Path(environ[CONFIG_ENV]), CONFIG_ENV))
    else:
        project = (cwd or Path.cwd()) / PROJECT_FILE
        if project.is_file():
            found.append(ConfigFile(project, "project"))
    return found


def _must_exist(path: Path, role: str) -> ConfigFile:
    if not path.is_file():
        raise ConfigError(
            f"config file {str(path)!r} (from {role}) does not exist; "
            f"create it or point {role} at an existing file."
        )
    return ConfigFile(path, role)


# -- the schema -------------------------------------------------------------------------------

_TOP_TABLES = ("defaults", "models", "aliases", "providers", "routes")
_SETTINGS_KEYS = ("model", "timeout", "max_retries", "offline")
_PROVIDER_KEYS = (
    "uses",
    "base_url",
    "base_url_env",
    "key_env",
    "timeout",
    "max_retries",
    "headers",
    "description",
    "rpm",
)
_INT_OPTIONS = frozenset({"n", "output_compression"})


@attrs.frozen(kw_only=True)
class ProviderEntry:
    """A ``[providers.NAME]`` table: settings for a provider, or a new instance of one."""

    name: str
    uses: str | None = None
    """Set: NAME is a new provider, the plugin provider ``uses`` with these settings."""
    base_url: str | None = None
    base_url_env: str | None = None
    key_env: str | None = None
    timeout: Any = None
    max_retries: int | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    description: str = ""
    rpm: float | None = None
    """Requests a minute at most, for batches and ``AsyncClient`` (retries count)."""


@attrs.frozen(kw_only=True)
class Config:
    """The layered content of every config file that applies; empty when there are none."""

    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    """``model``, ``timeout``, ``max_retries`` and default edit options."""
    models: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    """Per-model edit options, checked against that model like flags are."""
    aliases: Mapping[str, str] = attrs.field(factory=dict)
    providers: Mapping[str, ProviderEntry] = attrs.field(factory=dict)
    routes: Mapping[str, str] = attrs.field(factory=dict)
    files: tuple[ConfigFile, ...] = ()
    origins: Mapping[str, str] = attrs.field(factory=dict)
    """Dotted key (``providers.openai.base_url``) to the file that set it."""

    def origin(self, key: str) -> str | None:
        return self.origins.get(key)

    def default_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.defaults.items() if k not in _SETTINGS_KEYS}

    def route_for(self, *names: str) -> tuple[str, str] | None:
        """The (route key, provider) that applies to the first name matching a route.

        Exact keys win over patterns (``gpt-image-*``); among patterns the longest wins.
        """
        import fnmatch

        for name in names:
            if name in self.routes:
                return name, self.routes[name]
        for name in names:
            patterns = [k for k in self.routes if is_pattern(k) and fnmatch.fnmatchcase(name, k)]
            if patterns:
                best = max(patterns, key=len)
                return best, self.routes[best]
        return None


def is_pattern(key: str) -> bool:
    return any(c in key for c in "*?[")


def load_config(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Read and layer the config files that apply (see :func:`config_files`)."""
    return layer(config_files(explicit, environ, cwd))


def layer(files: list[ConfigFile]) -> Config:
    merged: dict[str, Any] = {name: {} for name in _TOP_TABLES}
    origins: dict[str, str] = {}
    for file in files:
        data = read_file(file.path)
        check(data, str(file.path))
        where = str(file.path)
        for key, value in data.get("defaults", {}).items():
            merged["defaults"][key] = value
            origins[f"defaults.{key}"] = where
        for table in ("aliases", "routes"):
            for key, value in data.get(table, {}).items():
                merged[table][key] = value
                origins[f"{table}.{key}"] = where
        for table in ("models", "providers"):
            for name, body in data.get(table, {}).items():
                target = merged[table].setdefault(name, {})
                for key, value in body.items():
                    target[key] = value
                    origins[f"{table}.{name}.{key}"] = where
    providers = {
        name: ProviderEntry(name=name, **_provider_kwargs(body))
        for name, body in merged["providers"].items()
    }
    return Config(
        defaults=merged["defaults"],
        models=merged["models"],
        aliases=merged["aliases"],
        providers=providers,
        routes=merged["routes"],
        files=tuple(files),
        origins=origins,
    )


def _provider_kwargs(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in _PROVIDER_KEYS}


def read_file(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}. Fix the syntax and retry.") from None


# -- checking ---------------------------------------------------------------------------------


def check(data: Mapping[str, Any], where: str) -> None:
    """Refuse unknown keys and wrong types, naming the file, the key and the fix."""
    for key, value in data.items():
        if key not in _TOP_TABLES:
            _unknown(where, key, _TOP_TABLES)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{key}] must be a table, not {_kind(value)}.")
    for key, value in data.get("defaults", {}).items():
        if key in _SETTINGS_KEYS:
            _check_setting(where, f"defaults.{key}", key, value)
        elif key in OPTION_FIELDS:
            _check_option(where, f"defaults.{key}", key, value)
        else:
            _unknown(where, f"defaults.{key}", (*_SETTINGS_KEYS, *OPTION_FIELDS))
    for model, options in data.get("models", {}).items():
        if not isinstance(options, dict):
            raise ConfigError(
                f"{where}: models.{model} must be a table of edit options, e.g. "
                f'[models."{model}"] quality = "high".'
            )
        for key, value in options.items():
            if key not in OPTION_FIELDS:
                _unknown(where, f"models.{model}.{key}", OPTION_FIELDS)
            _check_option(where, f"models.{model}.{key}", key, value)
    for table in ("aliases", "routes"):
        for key, value in data.get(table, {}).items():
            if not isinstance(value, str) or not value:
                target = "a model name" if table == "aliases" else "a provider name"
                raise ConfigError(
                    f"{where}: {table}.{key} must be {target} in quotes, not {value!r}."
                )
    for name, body in data.get("providers", {}).items():
        _check_provider(where, name, body)


def _check_setting(where: str, dotted: str, key: str, value: Any) -> None:
    if key == "model" and not (isinstance(value, str) and value):
        raise ConfigError(f'{where}: {dotted} must be a model name, e.g. "gpt-image-2".')
    if key == "max_retries" and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        raise ConfigError(f"{where}: {dotted} must be a whole number of 0 or more, not {value!r}.")
    if key == "timeout":
        _check_timeout(where, dotted, value)
    if key == "offline" and not isinstance(value, bool):
        raise ConfigError(f"{where}: {dotted} must be true or false, not {value!r}.")


def _check_timeout(where: str, dotted: str, value: Any) -> None:
    from .errors import UserError
    from .transport import coerce_timeout

    if isinstance(value, bool) or not isinstance(value, (int, float, str, dict)):
        raise ConfigError(
            f"{where}: {dotted} must be seconds (600) or a table "
            f"(timeout = {{ connect = 5, read = 900 }}), not {value!r}."
        )
    try:
        coerce_timeout(value)
    except UserError as exc:
        raise ConfigError(f"{where}: {dotted}: {exc}") from None


def _check_option(where: str, dotted: str, key: str, value: Any) -> None:
    if key in _INT_OPTIONS:
        ok = isinstance(value, int) and not isinstance(value, bool)
        wanted = "a whole number"
    else:
        ok = isinstance(value, str) and bool(value)
        wanted = "a string in quotes"
    if not ok:
        raise ConfigError(f"{where}: {dotted} must be {wanted}, not {value!r}.")


def _check_provider(where: str, name: str, body: Any) -> None:
    dotted = f"providers.{name}"
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: {dotted} must be a table, e.g. [providers.{name}].")
    if not _PROVIDER_NAME.match(name):
        raise ConfigError(
            f"{where}: provider name {name!r} must be lower-case letters, digits, '.', '_' or '-'."
        )
    for key, value in body.items():
        if key not in _PROVIDER_KEYS:
            _unknown(where, f"{dotted}.{key}", _PROVIDER_KEYS)
        if key in ("uses", "description") and not isinstance(value, str):
            raise ConfigError(f"{where}: {dotted}.{key} must be a string, not {value!r}.")
        if key == "base_url" and not (
            isinstance(value, str) and value.startswith(("http://", "https://"))
        ):
            raise ConfigError(
                f"{where}: {dotted}.base_url must be an http(s) URL such as "
                f'"https://api.openai.com/v1", not {value!r}.'
            )
        if key in ("key_env", "base_url_env") and not (
            isinstance(value, str) and _ENV_NAME.match(value)
        ):
            raise ConfigError(  # the value is not repeated: it may be a pasted key
                f"{where}: {dotted}.{key} must name an environment variable such as "
                f'"OPENAI_API_KEY" (letters, digits and _), not the key itself.'
            )
        if key in ("timeout", "max_retries"):
            _check_setting(where, f"{dotted}.{key}", key, value)
        if key == "rpm" and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
        ):
            raise ConfigError(
                f"{where}: {dotted}.rpm must be a number of requests a minute above 0 "
                f"(e.g. rpm = 60), not {value!r}."
            )
        if key == "headers" and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            raise ConfigError(
                f"{where}: {dotted}.headers must be a table of strings, e.g. "
                f'headers = {{ "X-Title" = "imgedit" }}.'
            )
    if "uses" in body and "key_env" not in body:
        raise ConfigError(
            f"{where}: {dotted} is a new instance of {body['uses']!r} and needs key_env, the "
            f'environment variable holding its key (e.g. key_env = "OPENAI_API_KEY"), so '
            f"another provider's key is never sent to it."
        )
    if "uses" in body and "base_url" not in body:
        raise ConfigError(
            f"{where}: {dotted} is a new instance of {body['uses']!r} and needs base_url."
        )


def _unknown(where: str, dotted: str, known: tuple[str, ...]) -> None:
    last = dotted.rsplit(".", 1)[-1]
    import difflib

    close = difflib.get_close_matches(last, known, n=1)
    fix = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}."
    raise ConfigError(f"{where}: unknown key {dotted!r}; {fix}")


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"

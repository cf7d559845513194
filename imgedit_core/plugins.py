"""Loading provider plugins so that one broken plugin never takes the others down.

Built-in providers come through the same entry-point group as third parties'. Each entry point
is loaded, registered and asked for its providers on its own; whatever it raises is recorded
as a :class:`PluginFailure` for ``imgedit plugins`` to show, and loading goes on.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .provider import ModelSpec, Provider

LOAD_PLUGINS_ENV = "IMGEDIT_LOAD_PLUGINS"
"""Comma-separated entry-point or distribution names: when set, only those load (empty: none)."""


@attrs.frozen
class PluginInfo:
    name: str
    module: str
    distribution: str | None
    version: str | None
    providers: tuple[str, ...]


@attrs.frozen
class PluginFailure:
    name: str
    stage: str
    """Where it broke: ``import``, ``validate`` or ``register``."""
    error: str
    detail: str = attrs.field(repr=False, default="")
    """The traceback, for ``imgedit plugins --verbose``."""


@attrs.define
class PluginSet:
    """What loading produced: the providers in registration order, and what failed."""

    providers: list[Provider] = attrs.field(factory=list)
    plugins: list[PluginInfo] = attrs.field(factory=list)
    failures: list[PluginFailure] = attrs.field(factory=list)


def _allowed(env: str | None) -> set[str] | None:
    if env is None:
        return None
    return {part.strip() for part in env.split(",") if part.strip()}


def load_plugins(
    extra: Iterable[object] = (),
    *,
    entry_points: bool = True,
    environ: dict[str, str] | None = None,
) -> PluginSet:
    """Load every plugin from the entry-point group, then each object in ``extra``.

    ``extra`` lets tests and embedders register plugins (modules or objects with hook functions)
    without installing a distribution.
    """
    env = os.environ if environ is None else environ
    allowed = _allowed(env.get(LOAD_PLUGINS_ENV))
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    result = PluginSet()

    if entry_points:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist is not None else None
            if allowed is not None and ep.name not in allowed and dist not in allowed:
                continue
            version = ep.dist.version if ep.dist is not None else None
            _add(pm, result, ep.name, ep.value, dist, version, ep.load)
    for index, plugin in enumerate(extra):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        _add(pm, result, name, name, None, None, _returning(plugin))
    return result


def _returning(plugin: object) -> Callable[[], object]:
    return lambda: plugin


def _entry_points() -> Sequence[Any]:
    from .entrypoints import entry_points

    seen: set[tuple[str, str]] = set()
    unique = []
    for ep in entry_points(hookspecs.ENTRY_POINT_GROUP):
        key = (ep.name, ep.value)
        if key not in seen:  # an editable install can list a distribution twice
            seen.add(key)
            unique.append(ep)
    return unique


def _add(
    pm: pluggy.PluginManager,
    result: PluginSet,
    name: str,
    module: str,
    dist: str | None,
    version: str | None,
    load: Callable[[], Any],
) -> None:
    stage = "import"
    try:
        plugin = load()
        stage = "validate"
        if pm.is_registered(plugin) or pm.has_plugin(name):
            raise ValueError(f"plugin {name!r} is registered twice")
        pm.register(plugin, name=name)
        try:
            pm.check_pending()
        except pluggy.PluginValidationError:
            pm.unregister(plugin)
            raise
        stage = "register"
        collected = _collect(pm, plugin)
        owners = {taken: info.name for info in result.plugins for taken in info.providers}
        for provider in collected:
            if provider.name in owners:
                raise ValueError(
                    f"provider name {provider.name!r} is already registered by plugin "
                    f"{owners[provider.name]!r}; provider names must be unique"
                )
    except Exception as exc:
        result.failures.append(
            PluginFailure(
                name=name,
                stage=stage,
                error=f"{type(exc).__name__}: {exc}",
                detail="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            )
        )
        if stage == "register":
            pm.unregister(plugin)
        return
    result.providers.extend(collected)
    result.plugins.append(
        PluginInfo(
            name=name,
            module=module,
            distribution=dist,
            version=version,
            providers=tuple(p.name for p in collected),
        )
    )


def _collect(pm: pluggy.PluginManager, plugin: object) -> list[Provider]:
    """Call this one plugin's hook; nothing is kept unless the whole call succeeds."""
    collected: list[Provider] = []

    def register(provider: Provider) -> None:
        if not isinstance(provider, Provider):
            raise TypeError(f"register() takes a Provider instance, got {type(provider).__name__}")
        collected.append(provider)

    caller = pm.subset_hook_caller(
        "register_providers", remove_plugins=[p for p in pm.get_plugins() if p is not plugin]
    )
    caller(register=register)
    if not collected:
        raise TypeError(
            "the plugin registered no provider: is its register_providers function decorated "
            "with @imgedit_core.hookimpl?"
        )
    for provider in collected:
        _validate(provider)
    return collected


def _validate(provider: Provider) -> None:
    name = getattr(provider, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{type(provider).__name__} has no provider name")
    specs = list(provider.models())
    if not specs or not all(isinstance(spec, ModelSpec) for spec in specs):
        raise TypeError(f"provider {name!r}: models() must return ModelSpec objects")

"""``imgedit config validate``: every config mistake at once, before an edit trips over one.

Reading the files already refuses bad syntax, unknown keys and wrong types; this adds what needs
the installed plugins: instances of providers that exist, routes to providers that serve the
model, aliases and defaults that resolve, and per-model options the model accepts.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .errors import ImgeditError

if TYPE_CHECKING:
    from .client import Client

# The smallest PNG, so per-model options can be checked the way a real edit checks them.
_PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def config_problems(client: Client) -> list[str]:
    """One message per problem, each naming the file and the key; empty when all is well."""
    from .config import is_pattern

    config = client.config
    try:
        registry = client.registry
    except ImgeditError as exc:
        return [str(exc)]
    problems: list[str] = []
    names = {p.name for p in registry.providers}
    for entry in config.providers.values():
        if entry.uses is None and entry.name not in names:
            place = config.origin(f"providers.{entry.name}.base_url") or _any_origin(
                config.origins, f"providers.{entry.name}."
            )
            problems.append(
                f"{place}: [providers.{entry.name}] names no installed provider; add "
                f'uses = "<installed provider>" to make it an instance '
                f"(installed: {', '.join(sorted(names))})."
            )
    for alias, target in sorted(config.aliases.items()):
        _try(
            problems,
            config.origin(f"aliases.{alias}"),
            f"aliases.{alias}",
            registry.resolve,
            target,
        )
    for key, target in sorted(config.routes.items()):
        where = config.origin(f"routes.{key}")
        if is_pattern(key):
            if target not in names:
                problems.append(
                    f"{where}: routes.{key} names provider {target!r}, which is neither "
                    f"installed nor configured."
                )
            continue
        _try(problems, where, f"routes.{key}", registry.resolve, key)
    if "model" in config.defaults:
        _try(
            problems,
            config.origin("defaults.model"),
            "defaults.model",
            registry.resolve,
            config.defaults["model"],
        )
    for model in sorted(config.models):
        _check_model_options(client, model, problems)
    return problems


def _check_model_options(client: Client, model: str, problems: list[str]) -> None:
    from .inputs import ImageInput
    from .request import EditRequest
    from .validation import check_request

    config = client.config
    where = _any_origin(config.origins, f"models.{model}.")
    try:
        resolved = client.registry.resolve(model)
        request = EditRequest(
            images=(ImageInput.from_bytes(_PIXEL, filename="check.png"),),
            prompt="check",
            model=resolved.model,
            **config.models[model],
        )
        check_request(resolved.model, resolved.spec.capabilities, request)
    except ImgeditError as exc:
        problems.append(f"{where}: models.{model}: {exc}")


def _try(
    problems: list[str],
    where: str | None,
    key: str,
    resolve: Callable[[str], object],
    value: str,
) -> None:
    try:
        resolve(value)
    except ImgeditError as exc:
        text = str(exc)
        prefix = f"{where or 'config'}: {key}"
        problems.append(text if text.startswith(f"{where}: ") else f"{prefix}: {text}")


def _any_origin(origins: Mapping[str, str], prefix: str) -> str:
    return next((where for key, where in origins.items() if key.startswith(prefix)), "config")

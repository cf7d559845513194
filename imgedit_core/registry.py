"""Model names to providers: exactly one provider per name, or an error that says why not."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from .config import Config, is_pattern
from .errors import AmbiguousModelError, ConfigError, UnknownModelError, UnknownProviderError
from .instances import ProviderInstance
from .provider import ModelSpec, Provider


@attrs.frozen
class Resolved:
    provider: Provider
    spec: ModelSpec
    model: str
    """The id sent on the wire: the name asked for (a dated snapshot stays dated)."""
    asked: str = ""
    """The name as the caller gave it, a config alias included."""


def _close_matches(model: str, names: set[str]) -> list[str]:
    """Suggestions, case-insensitive: ``GPT-Image-2`` should point at ``gpt-image-2``."""
    by_lower = {name.lower(): name for name in names}
    import difflib

    close = difflib.get_close_matches(model.lower(), by_lower, n=3, cutoff=0.5)
    return [by_lower[c] for c in close]


class Registry:
    """Providers by name, and the rules that pick one for a model.

    With several claimants, a config route decides; without one, the plugins' own providers
    win over config instances (an instance serves what a route or ``--provider`` sends it, so
    defining one never moves traffic by itself); anything else is an error.
    """

    def __init__(self, providers: Iterable[Provider], *, config: Config | None = None) -> None:
        self.config = config or Config()
        self._providers: dict[str, Provider] = {}
        for provider in providers:
            # The first registration of a name wins; later ones are shadowed, not merged.
            self._providers.setdefault(provider.name, provider)

    @property
    def providers(self) -> list[Provider]:
        return list(self._providers.values())

    def provider(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProviderError(name, self._providers) from None

    def entries(self) -> Iterator[tuple[Provider, ModelSpec]]:
        for provider in self._providers.values():
            for spec in provider.models():
                yield provider, spec

    def resolve(self, model: str, provider: str | None = None) -> Resolved:
        asked = model
        model = self.config.aliases.get(model, model)
        if provider is not None:
            chosen = self.provider(provider)
            candidates = [(chosen, spec) for spec in chosen.models()]
        else:
            candidates = list(self.entries())
        exact = [(p, s) for p, s in candidates if model == s.name or model in s.aliases]
        matches = exact or [(p, s) for p, s in candidates if s.claims(model)]
        if not matches:
            names = {s.name for _, s in candidates} | {a for _, s in candidates for a in s.aliases}
            names |= set(self.config.aliases)
            close = _close_matches(model, names)
            raise UnknownModelError(model, {s.name for _, s in candidates}, close)
        if provider is None:
            matches = self._choose(asked, model, matches)
        owners = {p.name for p, _ in matches}
        if len(owners) > 1:
            raise AmbiguousModelError(model, owners)
        p, spec = matches[0]
        wire = spec.name if model in spec.aliases else model
        return Resolved(provider=p, spec=spec, model=wire, asked=asked)

    def _choose(
        self, asked: str, model: str, matches: list[tuple[Provider, ModelSpec]]
    ) -> list[tuple[Provider, ModelSpec]]:
        names = dict.fromkeys([asked, model, *sorted({s.name for _, s in matches})])
        route = self.config.route_for(*names)
        # A pattern is broad by nature: it routes only the models its provider serves.
        if (
            route is not None
            and is_pattern(route[0])
            and route[1] in self._providers
            and not any(p.name == route[1] for p, _ in matches)
        ):
            route = None
        if route is not None:
            key, target = route
            where = self.config.origin(f"routes.{key}") or "config"
            if target not in self._providers:
                raise ConfigError(
                    f"{where}: routes.{key} names provider {target!r}, which is neither installed "
                    f"nor configured; known providers: {', '.join(sorted(self._providers))}."
                )
            routed = [(p, s) for p, s in matches if p.name == target]
            if not routed:
                servers = ", ".join(sorted({p.name for p, _ in matches}))
                raise ConfigError(
                    f"{where}: routes.{key} sends {model!r} to {target}, which does not serve "
                    f"it; it is served by {servers}."
                )
            return routed
        if len({p.name for p, _ in matches}) > 1:
            own = [(p, s) for p, s in matches if not isinstance(p, ProviderInstance)]
            if len({p.name for p, _ in own}) == 1:
                return own
        return matches

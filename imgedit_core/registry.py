"""Model names to providers: exactly one provider per name, or an error that says why not."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

import attrs

from .errors import AmbiguousModelError, UnknownModelError, UnknownProviderError
from .provider import ModelSpec, Provider


@attrs.frozen
class Resolved:
    provider: Provider
    spec: ModelSpec
    model: str
    """The id sent on the wire: the name asked for (a dated snapshot stays dated)."""


def _close_matches(model: str, names: set[str]) -> list[str]:
    """Suggestions, case-insensitive: ``GPT-Image-2`` should point at ``gpt-image-2``."""
    by_lower = {name.lower(): name for name in names}
    close = difflib.get_close_matches(model.lower(), by_lower, n=3, cutoff=0.5)
    return [by_lower[c] for c in close]


class Registry:
    def __init__(self, providers: Iterable[Provider]) -> None:
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
        if provider is not None:
            chosen = self.provider(provider)
            candidates = [(chosen, spec) for spec in chosen.models()]
        else:
            candidates = list(self.entries())
        exact = [(p, s) for p, s in candidates if model == s.name or model in s.aliases]
        matches = exact or [(p, s) for p, s in candidates if s.claims(model)]
        owners = {p.name for p, _ in matches}
        if not matches:
            names = {s.name for _, s in candidates} | {a for _, s in candidates for a in s.aliases}
            close = _close_matches(model, names)
            raise UnknownModelError(model, {s.name for _, s in candidates}, close)
        if len(owners) > 1:
            raise AmbiguousModelError(model, owners)
        p, spec = matches[0]
        wire = spec.name if model in spec.aliases else model
        return Resolved(provider=p, spec=spec, model=wire)

"""The provider contract: a pair of pure translations around the core's one transport.

A provider never sends. ``build_request`` turns an :class:`EditRequest` into an
``httpx.Request`` and ``parse_response`` turns the ``httpx.Response`` into an
:class:`EditResult`; retries, timeouts, downloads and error mapping live in the core, so every
provider gets them, sync or async, and is testable without a network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from .capabilities import Capabilities
from .request import EditRequest
from .result import EditResult

if TYPE_CHECKING:
    import httpx

    from .errors import APIError

_DATED = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")


@attrs.frozen(kw_only=True)
class ModelSpec:
    """One model a provider serves, under its name, its aliases and its dated snapshots."""

    name: str
    capabilities: Capabilities
    aliases: tuple[str, ...] = ()
    dated_snapshots: bool = True
    """Whether ``NAME-YYYY-MM-DD`` ids resolve to this model (and are sent as given)."""
    description: str = ""

    def claims(self, model: str) -> bool:
        if model == self.name or model in self.aliases:
            return True
        match = _DATED.match(model)
        return bool(self.dated_snapshots and match and match["base"] == self.name)


@attrs.frozen(kw_only=True)
class ProviderSettings:
    """Where and how to reach a provider. The key never shows in a repr."""

    base_url: str
    api_key: str | None = attrs.field(default=None, repr=False)
    headers: Mapping[str, str] = attrs.field(factory=dict)


class Provider:
    """Base class for provider plugins: subclass it and register an instance.

    Subclasses set the class attributes and implement :meth:`models`, :meth:`build_request` and
    :meth:`parse_response`; :meth:`parse_error` defaults to the OpenAI error envelope.
    """

    name: str
    """A stable id, e.g. ``cometapi-gpt-image``: what ``--provider`` and config name."""
    description: str = ""
    default_base_url: str
    base_url_env: str | None = None
    key_env: str | None = None
    """The environment variable holding the API key; None for providers that need none."""

    def models(self) -> Sequence[ModelSpec]:
        raise NotImplementedError

    def build_request(self, request: EditRequest, settings: ProviderSettings) -> httpx.Request:
        raise NotImplementedError

    def parse_response(self, response: httpx.Response, request: EditRequest) -> EditResult:
        raise NotImplementedError

    def parse_error(self, response: httpx.Response) -> APIError:
        from .openai_compat import parse_openai_error

        return parse_openai_error(response, provider=self.name)

    def __repr__(self) -> str:
        return f"<provider {self.name}>"

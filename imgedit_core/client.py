"""The Python face: ``Client`` and the one-call ``edit``."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .config import Config, load_config
from .errors import (
    APIError,
    CapabilityError,
    ConfigError,
    ImgeditError,
    PluginError,
    UnknownModelError,
)
from .inputs import ImageInput, ImageSource
from .instances import build_instances
from .plugins import PluginSet, load_plugins
from .registry import Registry, Resolved
from .request import EditRequest
from .result import EditResult
from .retry import coerce_policy
from .sentinel import NOT_GIVEN, Maybe
from .settings import (
    MODEL_ENV,
    OFFLINE_ENV,
    OFFLINE_KEY,
    configured_options,
    default_model,
    resolve_settings,
    transport_limits,
)
from .validation import check_request

if TYPE_CHECKING:
    import httpx

    from .keys import KeyStore
    from .provider import ProviderSettings
    from .retry import RetryPolicy
    from .transport import TimeoutSpec, Transport

log = logging.getLogger("imgedit.client")


@attrs.frozen
class PreparedEdit:
    """A checked request and where it goes, built but not yet sent."""

    resolved: Resolved
    request: EditRequest
    settings: ProviderSettings
    http_request: httpx.Request


class BaseClient:
    """What the sync and async clients share: settings, plugins, models, checks, building."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutSpec = None,
        max_retries: int | RetryPolicy | None = None,
        plugins: PluginSet | None = None,
        extra_plugins: Iterable[object] = (),
        entry_points: bool = True,
        environ: Mapping[str, str] | None = None,
        config: Config | str | os.PathLike[str] | None = None,
        keys: KeyStore | Literal[False] | None = None,
        offline: bool | None = None,
    ) -> None:
        from .transport import coerce_timeout

        self._environ = dict(os.environ if environ is None else environ)
        self._api_key = api_key
        self._base_url = base_url
        coerce_timeout(timeout)  # bad values fail here, not in the middle of a batch
        coerce_policy(max_retries)
        self._timeout = timeout
        self._retry = max_retries
        self._config = config if isinstance(config, Config) else None
        self._config_path = None if isinstance(config, Config) else config
        self._keys = keys
        self._offline = offline
        self._plugins = plugins
        self._extra_plugins = tuple(extra_plugins)
        self._entry_points = entry_points
        self._registry: Registry | None = None
        self._resolved: dict[tuple[str | None, str | None], Resolved] = {}
        self._limits: dict[str, tuple[httpx.Timeout, RetryPolicy]] = {}

    def __repr__(self) -> str:
        return f"<imgedit {type(self).__name__} base_url={self._base_url!r}>"

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment this client reads (a copy taken when it was made)."""
        return self._environ

    @property
    def explicit_api_key(self) -> bool:
        """Whether a key was passed in (``api_key=`` / ``--api-key``), beating every other."""
        return bool(self._api_key)

    # -- plugins and models ------------------------------------------------------------------

    @property
    def plugins(self) -> PluginSet:
        if self._plugins is None:
            self._plugins = load_plugins(
                self._extra_plugins, entry_points=self._entry_points, environ=self._environ
            )
        return self._plugins

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self._config_path, self._environ)
        return self._config

    @property
    def offline(self) -> bool:
        if self._offline is None:
            env = self._environ.get(OFFLINE_ENV, "").strip().lower()
            if env:
                self._offline = env not in ("0", "false", "no", "off")
            else:
                self._offline = bool(self.config.defaults.get("offline", False))
        return self._offline

    @property
    def keys(self) -> KeyStore | None:
        if self._keys is None:
            from .keys import KeyStore

            self._keys = KeyStore()
        return self._keys or None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            providers = self.plugins.providers
            self._registry = Registry(
                [*providers, *build_instances(self.config, providers)], config=self.config
            )
        return self._registry

    def resolve(self, model: str | None = None, provider: str | None = None) -> Resolved:
        """Which provider and model spec an edit of ``model`` gets; the same answer for the
        client's whole life (its plugins, config and environment are fixed), so remembered."""
        key = (model or None, provider)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(model, provider)
        return self._resolved[key]

    def _resolve(self, model: str | None, provider: str | None) -> Resolved:
        if model:
            return self.registry.resolve(model, provider)
        name = default_model(self._environ, self.config)
        try:
            return self.registry.resolve(name, provider)
        except UnknownModelError as exc:  # say where a model nobody typed came from
            if self._environ.get(MODEL_ENV):
                raise ConfigError(f"{MODEL_ENV}={name!r}: {exc}") from None
            where = self.config.origin("defaults.model")
            if where is None:
                raise
            raise ConfigError(f"{where}: defaults.model: {exc}") from None

    def limits(self, provider: str) -> tuple[httpx.Timeout, RetryPolicy]:
        """The timeout and retry policy an edit through ``provider`` gets (see settings.py)."""
        if provider not in self._limits:
            self._limits[provider] = self._find_limits(provider)
        return self._limits[provider]

    def _find_limits(self, provider: str) -> tuple[httpx.Timeout, RetryPolicy]:
        from .transport import coerce_timeout

        timeout, retries = self._timeout, self._retry
        if timeout is None or retries is None:
            entry = self.config.providers.get(provider)
            env_timeout, env_retries = transport_limits(self._environ, self.config, entry)
            timeout = env_timeout if timeout is None else timeout
            retries = env_retries if retries is None else retries
        return coerce_timeout(timeout), coerce_policy(retries)

    # -- editing -----------------------------------------------------------------------------

    def prepare(
        self,
        image: ImageSource | Sequence[ImageSource],
        prompt: str,
        *,
        model: str | None = None,
        provider: str | None = None,
        mask: Maybe[ImageSource] = NOT_GIVEN,
        extra: Mapping[str, Any] | None = None,
        require_key: bool = True,
        **options: Any,
    ) -> PreparedEdit:
        """Resolve, check and build the request without sending it.

        Options left out take the config's defaults: ``[models."NAME"]`` ones always, and
        ``[defaults]`` ones where the model has the option at all.
        """
        resolved = self.resolve(model, provider)
        options = {k: v for k, v in options.items() if v is not None and v is not NOT_GIVEN}
        from_config: dict[str, str] = {}
        for key, (value, dotted) in configured_options(self.config, resolved).items():
            if key not in options:
                options[key] = value
                from_config[key] = dotted
        request = EditRequest(
            images=tuple(ImageInput.coerce(i) for i in _as_list(image)),
            prompt=prompt,
            model=resolved.model,
            mask=_mask(mask),
            extra=extra,
            **options,
        )
        try:
            check_request(resolved.model, resolved.spec.capabilities, request)
        except CapabilityError as exc:
            if exc.field not in from_config:
                raise
            dotted = from_config[exc.field]
            raise CapabilityError(
                exc.model,
                exc.field,
                exc.value,
                exc.accepted,
                hint=f"The value comes from {self.config.origin(dotted) or 'config'} "
                f"({dotted}); change it there or pass --{exc.field.replace('_', '-')}.",
            ) from None
        settings = resolve_settings(
            resolved.provider,
            self._environ,
            # Offline, the key goes no further than the in-process emulator: never a real one.
            api_key=OFFLINE_KEY if self.offline else self._api_key,
            base_url=self._base_url,
            require_key=require_key,
            entry=self.config.providers.get(resolved.provider.name),
            keys=self.keys,
        )
        with _plugin_code(resolved.provider.name, "build_request"):
            http_request = resolved.provider.build_request(request, settings)
        _check_built(http_request, resolved)
        return PreparedEdit(resolved, request, settings, http_request)

    def _call_limits(
        self,
        prepared: PreparedEdit,
        max_retries: int | RetryPolicy | None,
        timeout: TimeoutSpec,
    ) -> tuple[TimeoutSpec, int | RetryPolicy]:
        """The limits one send gets (the call's own, else the client's), logged as it goes."""
        default_timeout, default_retry = self.limits(prepared.resolved.provider.name)
        log.info(
            "sending the edit to %s: %s %s (model %s)",
            prepared.resolved.provider.name,
            prepared.http_request.method,
            prepared.http_request.url.copy_with(query=None),
            prepared.resolved.model,
        )
        return (
            default_timeout if timeout is None else timeout,
            default_retry if max_retries is None else max_retries,
        )

    @contextmanager
    def _answering(self, prepared: PreparedEdit) -> Iterator[None]:
        """A server may echo the key back, in any status: errors leave with it masked."""
        try:
            yield
        except APIError as exc:
            from .transport import request_secrets

            exc.mask(request_secrets(prepared.http_request))
            raise

    def _parse(
        self, prepared: PreparedEdit, response: httpx.Response, started: float
    ) -> EditResult:
        provider = prepared.resolved.provider
        with _plugin_code(provider.name, "parse_response"):
            result = provider.parse_response(response, prepared.request)
        from .transport import ATTEMPTS

        attempts = response.extensions.get(ATTEMPTS)
        if isinstance(attempts, int):
            result.attempts = attempts
        log.info(
            "%s answered in %.1f s with %d image(s)",
            provider.name,
            time.monotonic() - started,
            len(result.images),
        )
        return result


class Client(BaseClient):
    """Holds loaded plugins and an HTTP connection pool; reuse it for many edits.

    ``api_key`` and ``base_url`` override the environment and config for every provider this
    client talks to. ``max_retries`` (default 2) and ``timeout`` (seconds, an ``httpx.Timeout``
    or ``{"connect": 5, "read": 900}``) apply to every edit unless a call says otherwise; see
    docs/errors.md for what is retried and what that means for billing.

    ``config`` is a :class:`Config`, a path to a TOML file, or None to read the files
    ``imgedit`` itself reads (docs/config.md); ``keys=False`` ignores stored keys.

    ``offline=True`` (or ``IMGEDIT_OFFLINE=1``, or ``offline = true`` under ``[defaults]``)
    sends every request to the built-in emulator of the edit route, in-process: the real
    provider code runs end to end, nothing leaves the machine and no key is needed.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutSpec = None,
        max_retries: int | RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        plugins: PluginSet | None = None,
        extra_plugins: Iterable[object] = (),
        entry_points: bool = True,
        environ: Mapping[str, str] | None = None,
        config: Config | str | os.PathLike[str] | None = None,
        keys: KeyStore | Literal[False] | None = None,
        offline: bool | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            plugins=plugins,
            extra_plugins=extra_plugins,
            entry_points=entry_points,
            environ=environ,
            config=config,
            keys=keys,
            offline=offline,
        )
        self._http_client = http_client
        self._transport: Transport | None = None
        self._owned_client: httpx.Client | None = None

    def send(
        self,
        prepared: PreparedEdit,
        *,
        max_retries: int | RetryPolicy | None = None,
        timeout: TimeoutSpec = None,
    ) -> EditResult:
        """Send a prepared edit; ``max_retries`` and ``timeout`` override the client's."""
        transport = self.transport
        call_timeout, retry = self._call_limits(prepared, max_retries, timeout)
        started = time.monotonic()
        with self._answering(prepared):
            response = transport.send(
                prepared.http_request,
                prepared.resolved.provider,
                retry=retry,
                timeout=call_timeout,
            )
            result = self._parse(prepared, response, started)
        for img in result.images:
            if img.url is not None and img.loader is None:
                img.loader = self._download
        return result

    def _download(self, url: str) -> bytes:
        if self._transport is not None:
            return self._transport.download(url)
        return _standalone_download(url)

    def edit(
        self,
        image: ImageSource | Sequence[ImageSource],
        prompt: str,
        *,
        model: str | None = None,
        provider: str | None = None,
        mask: Maybe[ImageSource] = NOT_GIVEN,
        n: Maybe[int] = NOT_GIVEN,
        quality: Maybe[str] = NOT_GIVEN,
        size: Maybe[str] = NOT_GIVEN,
        output_format: Maybe[str] = NOT_GIVEN,
        output_compression: Maybe[int] = NOT_GIVEN,
        background: Maybe[str] = NOT_GIVEN,
        input_fidelity: Maybe[str] = NOT_GIVEN,
        response_format: Maybe[str] = NOT_GIVEN,
        user: Maybe[str] = NOT_GIVEN,
        extra: Mapping[str, Any] | None = None,
        max_retries: int | RetryPolicy | None = None,
        timeout: TimeoutSpec = None,
    ) -> EditResult:
        """Edit ``image`` (a path, bytes, a binary file, or a list of them) as ``prompt`` says.

        Options left out are not sent. Raises a :class:`~imgedit_core.UserError` before sending
        anything the model cannot honour, and an :class:`~imgedit_core.APIError` if the edit
        fails on the far side.
        """
        prepared = self.prepare(
            image,
            prompt,
            model=model,
            provider=provider,
            mask=mask,
            extra=extra,
            n=n,
            quality=quality,
            size=size,
            output_format=output_format,
            output_compression=output_compression,
            background=background,
            input_fidelity=input_fidelity,
            response_format=response_format,
            user=user,
        )
        return self.send(prepared, max_retries=max_retries, timeout=timeout)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            from .transport import Transport

            http_client = self._http_client
            if http_client is None and self.offline:
                from .emulator import offline_http_client

                http_client = self._owned_client = offline_http_client()
            self._transport = Transport(http_client=http_client)
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._owned_client is not None:
            self._owned_client.close()
            self._owned_client = None

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def edit(
    image: ImageSource | Sequence[ImageSource],
    prompt: str,
    *,
    model: str | None = None,
    **kwargs: Any,
) -> EditResult:
    """One edit with a short-lived :class:`Client`; URL outputs stay downloadable afterwards."""
    with Client() as client:
        return client.edit(image, prompt, model=model, **kwargs)


def _mask(mask: Maybe[ImageSource] | None) -> Maybe[ImageInput]:
    if mask is None or mask is NOT_GIVEN:
        return NOT_GIVEN
    return ImageInput.coerce(mask)


def _as_list(image: ImageSource | Sequence[ImageSource]) -> list[ImageSource]:
    if isinstance(image, (list, tuple)):
        return list(image)
    return [image]  # type: ignore[list-item]


@contextmanager
def _plugin_code(provider: str, method: str) -> Iterator[None]:
    """A plugin's own failure is reported as the plugin's, not as imgedit's internal error."""
    try:
        yield
    except ImgeditError:
        raise
    except Exception as exc:
        raise PluginError(
            f"provider {provider} failed in {method}: {type(exc).__name__}: {exc}. "
            f"Report it to the plugin's authors (`imgedit plugins` shows where it comes from)."
        ) from exc


def _check_built(http_request: object, resolved: Resolved) -> None:
    import httpx

    if not isinstance(http_request, httpx.Request):
        raise PluginError(
            f"provider {resolved.provider.name} built {type(http_request).__name__}, "
            f"not an httpx.Request"
        )


def _standalone_download(url: str) -> bytes:
    """Downloads for results that outlive their client (``edit()`` closes its own)."""
    import httpx

    from .transport import download

    with httpx.Client() as client:
        return download(client, url)

"""The provider conformance suite: what every provider plugin must do, checked offline.

Usage, in a third party's test module::

    from imgedit_core.testing import ProviderConformance
    from my_plugin import MyProvider

    class TestMyProvider(ProviderConformance):
        provider = MyProvider()

Override the class attributes and hook methods below where the provider's wire format
differs from the OpenAI-style multipart route (field names, answer shape, error envelope).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import attrs
import httpx
import pytest
import respx

from .. import errors
from ..async_client import AsyncClient
from ..capabilities import Capabilities
from ..client import Client
from ..config import Config
from ..hookspecs import hookimpl
from ..inputs import ImageInput
from ..media import JPEG, PNG
from ..provider import ModelSpec, Provider, ProviderSettings
from ..request import EditRequest
from ..result import EditResult
from ..validation import check_request
from ..wire import FilePart, WireRequest, decode_request
from .images import make_image, make_mask

_STATUS_ERRORS: dict[int, type[errors.APIError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
    500: errors.ServerError,
    502: errors.ServerError,
    503: errors.ServerError,
}

_FORBIDDEN_CONTENT_TYPES = (None, "", "application/octet-stream")


class _OnePlugin:
    """Wraps one provider instance as a plugin, for a Client that loads no entry points."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.__name__ = f"conformance-{provider.name}"

    @hookimpl
    def register_providers(self, register: Callable[[Provider], None]) -> None:
        register(self.provider)


class ProviderConformance:
    """Subclass with ``provider = YourProvider()``; pytest collects the ``test_*`` methods."""

    provider: ClassVar[Provider]
    base_url: ClassVar[str] = "https://conformance.imgedit.test/v1"
    api_key: ClassVar[str] = "sk-conformance-secret-0123456789"
    always_sent: ClassVar[frozenset[str]] = frozenset({"prompt", "model"})
    """Wire fields sent with every request, whatever the caller set."""
    wire_names: ClassVar[Mapping[str, str]] = {}
    """The wire name of an EditRequest field where the provider renames it."""
    single_image_part: ClassVar[str] = "image"
    multi_image_part: ClassVar[str] = "image[]"
    mask_part: ClassVar[str] = "mask"
    sends_filenames: ClassVar[bool] = True
    """False where images go as data URIs in a JSON body: a data URI carries no filename."""
    extra_values: ClassVar[Mapping[str, Any]] = {}
    """A valid value for each provider option a model declares (default: True)."""
    output_url: ClassVar[str] = "https://files.conformance.imgedit.test/result-{index}.png"

    # -- hooks a subclass may override ------------------------------------------------------

    def settings(self) -> ProviderSettings:
        return ProviderSettings(base_url=self.base_url, api_key=self.api_key)

    def decode(self, request: httpx.Request) -> WireRequest:
        """Read the built request back; override for a wire format other than multipart/JSON.

        In a JSON body, top-level values that are base64 data URIs (or lists of them) are read
        as file parts named by their key, so the file-part tests hold JSON providers too.
        """
        return _lift_data_uris(decode_request(request))

    def image_part(self, model: str, count: int) -> str:
        """The part (or JSON key) that carries ``count`` input images for ``model``."""
        return self.single_image_part if count == 1 else self.multi_image_part

    def wire_model(self, wire: WireRequest) -> str | None:
        """The model the request names: a field by default; override where the URL names it."""
        return wire.field(self.wire_name("model"))

    def wire_value(self, field: str, value: Any) -> str:
        """How a given option reads on the wire; override where the provider translates it."""
        return value if isinstance(value, str) else json.dumps(value)

    def success_response(
        self, model: str, request: EditRequest, images: list[bytes], *, as_url: bool
    ) -> httpx.Response:
        """The provider's successful answer carrying ``images`` (OpenAI shape by default)."""
        data: list[dict[str, Any]] = [
            {"url": self.output_url.format(index=i)}
            if as_url
            else {"b64_json": base64.b64encode(img).decode()}
            for i, img in enumerate(images)
        ]
        body = {"created": 1781075000, "data": data, "usage": {"total_tokens": 10}}
        return httpx.Response(200, json=body)

    def error_response(self, status: int, message: str, code: str) -> httpx.Response:
        """The provider's error answer (OpenAI envelope by default)."""
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
        return httpx.Response(status, json=body)

    # -- plumbing ---------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "model" in metafunc.fixturenames:
            names = [spec.name for spec in self.provider.models()]
            metafunc.parametrize("model", names)
        if "flavour" in metafunc.fixturenames:
            metafunc.parametrize("flavour", ["sync", "async"])

    def spec(self, model: str) -> ModelSpec:
        return next(s for s in self.provider.models() if s.name == model)

    def caps(self, model: str) -> Capabilities:
        return self.spec(model).capabilities

    def client(self, flavour: str = "sync", **kwargs: Any) -> Client | _AsyncDriver:
        """A client holding only this provider; ``flavour="async"`` drives an AsyncClient, so
        every end-to-end check runs through both."""
        kwargs.setdefault("api_key", self.api_key)
        # The kit checks how errors map, not how the transport retries: retries only add delays.
        kwargs.setdefault("max_retries", 0)
        common: dict[str, Any] = {
            "base_url": self.base_url,
            "extra_plugins": [_OnePlugin(self.provider)],
            "entry_points": False,
            "environ": {},
            "config": Config(),
            "keys": False,
            **kwargs,
        }
        if flavour == "async":
            return _AsyncDriver(AsyncClient(**common))
        return Client(**common)

    def request(self, model: str, **changes: Any) -> EditRequest:
        images = changes.pop("images", (ImageInput.from_bytes(make_image(), "input.png"),))
        return EditRequest(images=images, prompt="Add a small red ribbon", model=model, **changes)

    def build(self, request: EditRequest) -> WireRequest:
        with respx.mock(assert_all_mocked=True, assert_all_called=False):
            built = self.provider.build_request(request, self.settings())
        assert isinstance(built, httpx.Request), "build_request must return an httpx.Request"
        return self.decode(built)

    def wire_name(self, field: str) -> str:
        return self.wire_names.get(field, field)

    def accepted_options(self, caps: Capabilities) -> dict[str, Any]:
        """One accepted value for every option the model declares, consistent together."""
        options: dict[str, Any] = {}
        if caps.max_n > caps.min_n:
            options["n"] = caps.max_n
        if caps.qualities:
            options["quality"] = sorted(caps.qualities)[0]
        if caps.sizes:
            options["size"] = sorted(caps.sizes)[0]
        if caps.response_formats:
            options["response_format"] = (
                "b64_json"
                if "b64_json" in caps.response_formats
                else sorted(caps.response_formats)[0]
            )
        fmt = (
            "webp"
            if "webp" in caps.output_formats
            else next(iter(sorted(caps.output_formats)), None)
        )
        if fmt is not None:
            options["output_format"] = fmt
            if caps.output_compression and fmt in ("jpeg", "webp"):
                options["output_compression"] = 50
        if caps.backgrounds:
            options["background"] = sorted(caps.backgrounds)[0]
        if caps.input_fidelities:
            options["input_fidelity"] = sorted(caps.input_fidelities)[0]
        if caps.user:
            options["user"] = "conformance-user"
        return options

    # -- the declaration --------------------------------------------------------------------

    def test_declares_models(self) -> None:
        specs = list(self.provider.models())
        assert specs, "a provider must declare at least one model"
        names = [s.name for s in specs]
        assert len(names) == len(set(names)), f"model names repeat: {names}"
        assert isinstance(self.provider.name, str)
        assert self.provider.name == self.provider.name.strip().lower()
        for spec in specs:
            assert isinstance(spec.capabilities, Capabilities)
            caps = spec.capabilities
            assert caps.b64_output or caps.url_output, f"{spec.name} declares no output kind"
            assert 1 <= caps.min_n <= caps.max_n
            assert caps.max_images >= 1

    # -- the request it builds --------------------------------------------------------------

    def test_build_does_not_send(self, model: str) -> None:
        # build() runs under respx with nothing mocked: any attempt to send fails the test.
        first = self.build(self.request(model))
        second = self.build(self.request(model))
        assert first.fields == second.fields, "building twice must build the same request"

    def test_request_target_and_auth(self, model: str) -> None:
        built = self.provider.build_request(self.request(model), self.settings())
        assert built.method == "POST"
        assert str(built.url).startswith(self.base_url), f"{built.url} is not under the base URL"
        assert self.api_key not in str(built.url), "the API key must never be in the URL"
        if self.provider.key_env:
            assert any(self.api_key in v for v in built.headers.values()), (
                "the API key must be sent in a header"
            )

    def test_file_parts_carry_name_and_type(self, model: str) -> None:
        jpeg = ImageInput.from_bytes(make_image(fmt="JPEG"), "photo.jpg")
        wire = self.build(self.request(model, images=(jpeg,)))
        name = self.image_part(model, 1)
        parts = wire.files_named(name)
        assert len(parts) == 1, f"expected one {name!r} part, got {wire.files}"
        if self.sends_filenames:
            assert parts[0].filename == "photo.jpg"
        assert parts[0].content_type == JPEG
        assert parts[0].data == jpeg.read()
        for part in wire.files:
            assert part.content_type not in _FORBIDDEN_CONTENT_TYPES, part
            assert part.filename or not self.sends_filenames, f"part {part.name!r} has no filename"

    def test_several_images_go_as_one_part_each(self, model: str) -> None:
        caps = self.caps(model)
        if caps.max_images < 2:
            pytest.skip(f"{model} takes one image")
        images = tuple(
            ImageInput.from_bytes(make_image(color=c), f"in-{c}.png") for c in ("red", "blue")
        )
        wire = self.build(self.request(model, images=images))
        parts = wire.files_named(self.image_part(model, len(images)))
        assert len(parts) == len(images), f"expected one part per image, got {wire.files}"
        if self.sends_filenames:
            assert [p.filename for p in parts] == ["in-red.png", "in-blue.png"]
        assert all(p.content_type == PNG for p in parts)
        assert [p.data for p in parts] == [i.read() for i in images]

    def test_mask_part(self, model: str) -> None:
        if not self.caps(model).mask:
            pytest.skip(f"{model} takes no mask")
        mask = ImageInput.from_bytes(make_mask(), "mask.png")
        request = self.request(model, mask=mask)
        check_request(model, self.caps(model), request)
        parts = self.build(request).files_named(self.mask_part)
        assert len(parts) == 1
        if self.sends_filenames:
            assert parts[0].filename == "mask.png"
        assert parts[0].content_type == PNG
        assert parts[0].data == mask.read()

    def test_unset_options_are_not_sent(self, model: str) -> None:
        wire = self.build(self.request(model))
        sent = set(wire.fields)
        assert sent <= set(self.always_sent), f"sent fields nobody set: {sent - self.always_sent}"
        assert self.wire_model(wire) == model
        assert wire.field(self.wire_name("prompt")) == "Add a small red ribbon"

    def test_given_options_are_sent(self, model: str) -> None:
        caps = self.caps(model)
        options = self.accepted_options(caps)
        extra = {k: self.extra_values.get(k, True) for k in caps.extra_options}
        request = self.request(model, extra=extra, **options)
        check_request(model, caps, request)
        wire = self.build(request)
        for field, value in [*options.items(), *extra.items()]:
            expected = self.wire_value(field, value)
            got = wire.field(self.wire_name(field))
            assert got == expected, f"{field}: sent {got!r}, expected {expected!r}"

    # -- capabilities enforced --------------------------------------------------------------

    def refused_cases(self, model: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(field, request changes) the model's capabilities must refuse."""
        caps = self.caps(model)
        if not caps.mask:
            yield "mask", {"mask": ImageInput.from_bytes(make_mask(), "mask.png")}
        yield "n", {"n": caps.max_n + 1}
        yield "n", {"n": 0}
        many = tuple(
            ImageInput.from_bytes(make_image(), f"i{i}.png") for i in range(caps.max_images + 1)
        )
        yield "image", {"images": many}
        yield "quality", {"quality": "ultra" if caps.qualities else "high"}
        yield "size", {"size": "17x17" if (caps.sizes or caps.custom_sizes) else "1024x1024"}
        yield (
            "response_format",
            {"response_format": "bogus" if caps.response_formats else "b64_json"},
        )
        yield "output_format", {"output_format": "gif" if caps.output_formats else "png"}
        yield "background", {"background": "neon" if caps.backgrounds else "opaque"}
        yield "input_fidelity", {"input_fidelity": "extreme" if caps.input_fidelities else "high"}
        if not caps.output_compression:
            yield "output_compression", {"output_compression": 50}
        if not caps.user:
            yield "user", {"user": "someone"}
        yield "conformance_unknown_option", {"extra": {"conformance_unknown_option": 1}}

    def test_capabilities_refuse_before_sending(self, model: str, flavour: str) -> None:
        with respx.mock(assert_all_called=False) as router:
            route = router.route(url__startswith=self.base_url).mock(
                side_effect=AssertionError("a refused request was sent")
            )
            for field, changes in self.refused_cases(model):
                request = self.request(model, **changes)
                with pytest.raises(errors.CapabilityError) as caught:
                    check_request(model, self.caps(model), request)
                assert caught.value.model == model
                assert caught.value.field == field, f"refusing {changes} named {caught.value.field}"
                assert model in str(caught.value)
                assert field in str(caught.value)
            with self.client(flavour) as client, pytest.raises(errors.CapabilityError):
                client.edit(make_image(), "x", model=model, provider=self.provider.name, n=0)
            assert route.call_count == 0

    def test_missing_key_is_a_config_error(self, model: str, flavour: str) -> None:
        if not self.provider.key_env:
            pytest.skip("the provider needs no key")
        with (
            self.client(flavour, api_key=None) as client,
            pytest.raises(errors.ConfigError) as caught,
        ):
            client.edit(make_image(), "x", model=model, provider=self.provider.name)
        assert self.provider.key_env in str(caught.value)

    # -- answers ----------------------------------------------------------------------------

    def _parse(self, model: str, response: httpx.Response, **changes: Any) -> EditResult:
        request = self.request(model, **changes)
        response.request = httpx.Request("POST", self.base_url)
        return self.provider.parse_response(response, request)

    def test_parses_b64_answer(self, model: str) -> None:
        if not self.caps(model).b64_output:
            pytest.skip(f"{model} answers URLs only")
        out = make_image(color="green")
        request = self.request(model)
        result = self._parse(model, self.success_response(model, request, [out], as_url=False))
        assert isinstance(result, EditResult)
        assert [img.data for img in result.images] == [out]
        assert result.images[0].media_type == PNG
        assert result.provider == self.provider.name
        assert result.model == model

    def test_parses_url_answer_and_downloads(self, model: str, flavour: str) -> None:
        if not self.caps(model).url_output:
            pytest.skip(f"{model} answers b64 only")
        out = make_image(color="purple")
        with respx.mock(assert_all_called=True) as router:
            request = self.request(model)
            router.post(url__startswith=self.base_url).mock(
                return_value=self.success_response(model, request, [out], as_url=True)
            )
            router.get(self.output_url.format(index=0)).respond(200, content=out)
            with self.client(flavour) as client:
                result = client.edit(make_image(), "x", model=model, provider=self.provider.name)
                assert result.images[0].url == self.output_url.format(index=0)
                assert result.images[0].data == out

    def test_parse_is_lenient(self, model: str) -> None:
        request = self.request(model)
        caps = self.caps(model)
        response = self.success_response(model, request, [make_image()], as_url=not caps.b64_output)
        body = json.loads(response.content)
        body["an_unknown_field"] = {"kept": True}
        for item in body.get("data", []):
            if isinstance(item, dict):
                item["another_unknown"] = 1
        body.pop("usage", None)
        body.pop("created", None)
        result = self._parse(model, httpx.Response(200, json=body))
        assert len(result.images) == 1
        assert result.metadata.get("an_unknown_field") == {"kept": True}
        assert result.usage is None
        assert result.created is None

    def test_malformed_answers_are_invalid_response(self, model: str) -> None:
        for response in (
            httpx.Response(200, json={"created": 1}),
            httpx.Response(200, json={"data": []}),
            httpx.Response(
                200, content=b"<html>gateway</html>", headers={"content-type": "text/html"}
            ),
            httpx.Response(200, content=b'{"data": [{"b64_json": "iVBO'),
            httpx.Response(200, json=[1, 2]),
        ):
            with pytest.raises(errors.InvalidResponseError):
                self._parse(model, response)
        if self.caps(model).b64_output:
            bad = httpx.Response(200, json={"data": [{"b64_json": "not base64!!"}]})
            with pytest.raises(errors.InvalidResponseError):
                _ = self._parse(model, bad).images[0].data

    def test_error_statuses_map_to_typed_errors(self, model: str) -> None:
        for status, cls in _STATUS_ERRORS.items():
            response = self.error_response(status, f"failure {status}", f"code_{status}")
            response.request = httpx.Request("POST", self.base_url)
            error = self.provider.parse_error(response)
            assert isinstance(error, cls), f"HTTP {status} gave {type(error).__name__}"
            assert error.status == status
            assert error.code == f"code_{status}"
            assert f"failure {status}" in str(error)

    def test_errors_through_the_client(self, model: str, flavour: str) -> None:
        with respx.mock() as router, self.client(flavour) as client:
            route = router.post(url__startswith=self.base_url)
            for status in (400, 401, 429, 503):
                route.mock(return_value=self.error_response(status, "nope", "some_code"))
                with pytest.raises(_STATUS_ERRORS[status]) as caught:
                    client.edit(make_image(), "x", model=model, provider=self.provider.name)
                assert self.api_key not in str(caught.value)
                assert self.api_key not in repr(caught.value)

    # -- end to end -------------------------------------------------------------------------

    def test_edit_end_to_end(self, model: str, flavour: str) -> None:
        caps = self.caps(model)
        out = make_image(color="orange")
        with respx.mock(assert_all_called=False) as router:
            route = router.post(url__startswith=self.base_url)
            router.get(url__startswith=self.output_url.split("{")[0]).respond(200, content=out)

            def answer(request: httpx.Request) -> httpx.Response:
                req = self.request(model)
                return self.success_response(model, req, [out], as_url=not caps.b64_output)

            route.mock(side_effect=answer)
            with self.client(flavour) as client:
                result = client.edit(
                    make_image(), "Add a hat", model=model, provider=self.provider.name
                )
                assert route.call_count == 1
                assert result.images[0].data == out
                assert self.api_key not in repr(result)
            sent = self.decode(route.calls[0].request)
            assert sent.field(self.wire_name("prompt")) == "Add a hat"


class _AsyncDriver:
    """An AsyncClient driven from a sync test: one event loop for the client's whole life, and
    every answer's bytes awaited (``aload``) before the result is handed back."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()

    def edit(self, *args: Any, **kwargs: Any) -> EditResult:
        async def run() -> EditResult:
            result = await self.client.edit(*args, **kwargs)
            for image in result.images:
                await image.aload()
            return result

        return self.loop.run_until_complete(run())

    def __enter__(self) -> _AsyncDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.loop.run_until_complete(self.client.aclose())
        finally:
            self.loop.close()


def _lift_data_uris(wire: WireRequest) -> WireRequest:
    """Move a JSON body's data-URI images from ``fields`` to ``files``, as multipart has them."""
    if not isinstance(wire.json_body, dict):
        return wire
    fields = dict(wire.fields)
    files = list(wire.files)
    for key, value in wire.json_body.items():
        values = value if isinstance(value, list) else [value]
        parts = [_data_uri_part(key, item) for item in values]
        if values and all(part is not None for part in parts):
            del fields[key]
            files.extend(part for part in parts if part is not None)
    return attrs.evolve(wire, fields=fields, files=files)


def _data_uri_part(key: str, value: object) -> FilePart | None:
    if not isinstance(value, str) or not value.startswith("data:"):
        return None
    header, sep, payload = value.partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AssertionError(f"JSON field {key!r} holds a data URI that is not base64") from None
    media_type = header[len("data:") :].split(";")[0]
    return FilePart(name=key, filename=None, content_type=media_type or None, data=data)


__all__ = ["ProviderConformance"]

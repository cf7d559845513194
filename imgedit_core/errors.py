"""One error tree for everything imgedit can refuse or meet.

Every error is written for a person: what was wrong, with which value, and what to do. The CLI
prints ``str(error)`` and exits with ``error.exit_code``; nothing here ever holds an API key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar


class ImgeditError(Exception):
    """Base of every error imgedit raises on purpose."""

    exit_code: ClassVar[int] = 1


# --- the caller's mistakes: nothing was sent -------------------------------------------------


class UserError(ImgeditError):
    """Something the caller can fix; raised before any request is sent."""

    exit_code = 2


class InputError(UserError):
    """An input file or value is unusable (missing, unreadable, not an image, too large)."""


class CapabilityError(UserError):
    """The chosen model cannot honour a field of the request."""

    def __init__(
        self, model: str, field: str, value: object, accepted: str, *, hint: str = ""
    ) -> None:
        self.model = model
        self.field = field
        self.value = value
        self.accepted = accepted
        message = f"model {model!r} does not accept {field}={value!r}: {accepted}."
        if hint:
            message += f" {hint}"
        super().__init__(message)


class UnknownModelError(UserError):
    def __init__(self, model: str, known: Iterable[str], close: Iterable[str]) -> None:
        self.model = model
        self.known = sorted(known)
        self.close = list(close)
        message = f"unknown model {model!r}."
        if self.close:
            message += f" Did you mean: {', '.join(self.close)}?"
        if self.known:
            message += f" Known models: {', '.join(self.known)}."
        else:
            message += " No provider plugin is loaded: run `imgedit plugins` to see why."
        message += " `imgedit models` lists them with their capabilities."
        super().__init__(message)


class AmbiguousModelError(UserError):
    def __init__(self, model: str, providers: Iterable[str]) -> None:
        self.model = model
        self.providers = sorted(providers)
        super().__init__(
            f"model {model!r} is served by several providers: {', '.join(self.providers)}. "
            f"Pick one with --provider NAME (Python: provider=NAME), or route it for good in "
            f'imgedit.toml: [routes] "{model}" = "{self.providers[0]}".'
        )


class UnknownProviderError(UserError):
    def __init__(self, provider: str, known: Iterable[str]) -> None:
        self.provider = provider
        self.known = sorted(known)
        super().__init__(
            f"unknown provider {provider!r}. Loaded providers: {', '.join(self.known) or 'none'}."
        )


class ConfigError(UserError):
    """Settings are missing or wrong (an API key not set, a bad base URL)."""


class OutputError(UserError):
    """The result cannot be written where asked (it exists, or the folder is not writable)."""


# --- plugins ---------------------------------------------------------------------------------


class PluginError(ImgeditError):
    """A provider plugin broke its contract or failed in its own code."""

    exit_code = 6


# --- the far side ----------------------------------------------------------------------------


class APIError(ImgeditError):
    """The request was sent and did not produce an edited image."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        provider: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
        retryable: bool | None = None,
    ) -> None:
        self.message = message
        self.retryable = retryable
        """A provider's own word on whether sending again can help; None: judge by status."""
        self.retry_after = retry_after
        self.attempts = attempts
        """How many times the request was sent before giving up (retries included)."""
        self.status = status
        self.code = code
        self.param = param
        self.error_type = error_type
        self.request_id = request_id
        self.provider = provider
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.provider}: " if self.provider else ""
        status = f"HTTP {self.status}" if self.status is not None else ""
        details = ", ".join(
            part
            for part in (
                status,
                f"code={self.code}" if self.code else "",
                f"param={self.param}" if self.param else "",
            )
            if part
        )
        head = f"{where}{self.message}"
        if details:
            head += f" ({details})"
        if self.attempts > 1:
            head += f", after {self.attempts} attempts"
        hint = self.hint()
        return f"{head}. {hint}" if hint else head

    def hint(self) -> str:
        """What the person can do next; empty when there is nothing useful to say."""
        return ""

    def mask(self, secrets: Iterable[str]) -> None:
        """Remove secrets a server echoed back (``Incorrect API key provided: sk-...``)."""
        from .redact import redact

        secrets = list(secrets)
        self.message = redact(self.message, secrets)
        for name in ("code", "param", "error_type", "request_id"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, redact(value, secrets))
        self.args = (self._render(),)

    def renamed(self, provider: str) -> None:
        """Report the error under a provider instance's name rather than its base's."""
        self.provider = provider
        self.args = (self._render(),)

    def gave_up_after(self, attempts: int) -> None:
        """Record the attempts made, so the message says a retry was already tried."""
        self.attempts = attempts
        self.args = (self._render(),)


class APIStatusError(APIError):
    """The server answered with an error status."""


class BadRequestError(APIStatusError):
    def hint(self) -> str:
        return "The server refused the request as sent; check the field it names"


class AuthenticationError(APIStatusError):
    exit_code = 3

    def hint(self) -> str:
        return "Check the API key (is it set, current, and for this provider?)"


class PermissionDeniedError(APIStatusError):
    exit_code = 3

    def hint(self) -> str:
        return "The key is valid but not allowed to use this model or route"


class NotFoundError(APIStatusError):
    def hint(self) -> str:
        return "Check the model name and the provider's base URL"


class RequestTimeoutError(APIStatusError):
    """HTTP 408: the server gave up waiting for the request."""

    exit_code = 5

    def hint(self) -> str:
        return "The server timed out receiving the request; try again"


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    exit_code = 5

    def hint(self) -> str:
        wait = f" ({self.retry_after:g} s suggested)" if self.retry_after else ""
        return f"Rate limited: wait and try again{wait}, or lower the request rate"


class ServerError(APIStatusError):
    exit_code = 5

    def hint(self) -> str:
        return "The provider failed on its side; try again later"


class APIConnectionError(APIError):
    """No answer: the connection failed or broke."""

    exit_code = 5

    def hint(self) -> str:
        return "Check the network and the provider's base URL"


class APITimeoutError(APIConnectionError):
    """No answer in time. ``phase`` is connect, write (uploading), read or pool."""

    def __init__(self, message: str, *, phase: str | None = None, **kwargs: Any) -> None:
        self.phase = phase
        super().__init__(message, **kwargs)

    def hint(self) -> str:
        return "Edits can take minutes: raise the timeout, or try again later"


class InvalidResponseError(APIError):
    """An answer came, but it is not one an edit can come from."""

    def hint(self) -> str:
        return "The provider's answer was malformed; if the base URL is right, report this"


class RedirectError(InvalidResponseError):
    """A redirect where an answer should be: usually a wrong base URL (http vs https, path)."""

    def hint(self) -> str:
        return "Check the base URL (scheme, host and the /v1 path)"


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


#: Codes that mark a request the server could not accept, whatever the status says: CometAPI
#: answers a malformed request with 500 ``invalid_request``, which no retry can fix.
MALFORMED_REQUEST_CODES = frozenset({"invalid_request"})


def error_class_for_status(status: int, code: str | None = None) -> type[APIStatusError]:
    """The error class an HTTP error status (and, for 5xx, its error code) maps to."""
    if status >= 500 and code in MALFORMED_REQUEST_CODES:
        return BadRequestError
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status]
    if status >= 500:
        return ServerError
    return APIStatusError

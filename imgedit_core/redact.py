"""Keeping secrets out of everything imgedit prints.

Errors are built not to contain keys, but a message can quote a plugin's exception or a server's
echo; the CLI passes every line it prints through :func:`redact` as a last line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_MIN_SECRET_LEN = 8
SECRET_HEADER = re.compile(r"(auth|key|token|secret|password|cookie|signature)", re.IGNORECASE)
"""Header names whose values are never shown: Authorization, X-Api-Key, X-Auth-Token, ..."""


def secrets_in(environ: Mapping[str, str]) -> list[str]:
    """Values of environment variables whose names say they hold a secret."""
    return [v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN]


_KEY_SHAPED = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]{6,}")
_REMEMBERED: set[str] = set()


def remember(secret: str) -> None:
    """A secret that did not come from the environment (``--api-key``), masked from now on."""
    if secret:
        _REMEMBERED.add(secret)


def known_secrets(environ: Mapping[str, str]) -> list[str]:
    return [*secrets_in(environ), *_REMEMBERED]


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_LEN:
            text = text.replace(secret, REDACTED)
    text = re.sub(r"(Bearer\s+)[A-Za-z0-9._\-]{8,}", rf"\1{REDACTED}", text)
    # Key-shaped words (sk-..., even cut short by a truncated quote of a server's answer).
    return _KEY_SHAPED.sub(REDACTED, text)

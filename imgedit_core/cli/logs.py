"""Log lines on stderr, secrets masked: retries and waits a person should see as they happen."""

from __future__ import annotations

import logging
import os

import click


class _MaskedStderr(logging.Handler):
    """Writes through click (so tests capture it) after masking every known secret."""

    def emit(self, record: logging.LogRecord) -> None:
        from ..redact import known_secrets, redact

        try:
            line = self.format(record)
        except Exception:  # a malformed record must not end an edit that is under way
            self.handleError(record)
            return
        click.echo(redact(line, known_secrets(os.environ)), err=True)


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Warnings (retries) by default, INFO with -v, DEBUG with -vv, errors only with --quiet."""
    logger = logging.getLogger("imgedit")
    for handler in list(logger.handlers):
        if isinstance(handler, _MaskedStderr):
            logger.removeHandler(handler)
    handler = _MaskedStderr()
    handler.setFormatter(logging.Formatter("imgedit: %(message)s"))
    logger.addHandler(handler)
    if quiet:
        logger.setLevel(logging.ERROR)
    else:
        logger.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))

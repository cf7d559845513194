"""Log lines on stderr, secrets masked: retries and waits a person should see as they happen."""

from __future__ import annotations

import logging
import os

from .live import echo_above


class _MaskedStderr(logging.Handler):
    """Writes through click (so tests capture it) after masking every known secret.

    A spinner or progress bar on screen is erased first and drawn again below the line, so a
    retry warning is never glued to a spinner frame.
    """

    def emit(self, record: logging.LogRecord) -> None:
        from ..redact import known_secrets, redact

        try:
            line = self.format(record)
        except Exception:  # a malformed record must not end an edit that is under way
            self.handleError(record)
            return
        echo_above(redact(line, known_secrets(os.environ)))


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

"""Turning errors into one clear line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import click

DEBUG_ENV = "IMGEDIT_DEBUG"
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70
EXIT_BROKEN_PIPE = 141


@contextmanager
def guarded(*, sends_edits: bool = False) -> Iterator[None]:
    """Run a command body: imgedit's own errors exit with their code and message."""
    from ..errors import ImgeditError

    try:
        yield
    except ImgeditError as exc:
        say(f"Error: {exc}")
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # The reader went away (`imgedit ... | head`): stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    except KeyboardInterrupt:
        if sends_edits:
            say(
                "Interrupted: stopped waiting (an edit already sent may still be billed); "
                "no partly written file was left behind."
            )
        else:
            say("Interrupted.")
        sys.exit(EXIT_INTERRUPTED)
    except (click.ClickException, click.exceptions.Exit, SystemExit):
        raise
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        say(
            f"Internal error: {type(exc).__name__}: {exc}. This is a bug in imgedit or a plugin; "
            f"rerun with {DEBUG_ENV}=1 for the traceback and report it."
        )
        sys.exit(EXIT_INTERNAL)


def say(message: str) -> None:
    """One line on stderr, with any secret from the environment masked."""
    from ..redact import known_secrets, redact
    from .live import echo_above

    echo_above(redact(message, known_secrets(os.environ)))  # never glued to a spinner frame


def echo_json(data: object) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=False))

"""The ``imgedit`` entry point: a click group whose commands load nothing heavy until run."""

from __future__ import annotations

import click

from .._version import __version__
from .edit import edit_command
from .models import models_command
from .plugins import plugins_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="imgedit")
def cli() -> None:
    """Prompt-driven image editing across providers.

    \b
    Quick start:
      export COMETAPI_KEY=sk-...
      imgedit edit boat.png -p "Add a small red ribbon to the paper boat" -o boat-ribbon.png
    """


cli.add_command(edit_command)
cli.add_command(models_command)
cli.add_command(plugins_command)


def main() -> None:
    cli(prog_name="imgedit")

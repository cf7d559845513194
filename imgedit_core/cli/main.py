"""The ``imgedit`` entry point: a click group whose commands load nothing heavy until run."""

from __future__ import annotations

import click

from .._version import __version__
from .batch import batch_command
from .config import config_group
from .edit import edit_command
from .emulator import emulator_command
from .keys import keys_group
from .logs import setup_logging
from .models import models_command
from .plugins import plugins_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="imgedit")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="Config file to use instead of ./imgedit.toml (env: IMGEDIT_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Prompt-driven image editing across providers.

    \b
    Quick start:
      export COMETAPI_KEY=sk-...
      imgedit edit boat.png -p "Add a small red ribbon to the paper boat" -o boat-ribbon.png
    """
    ctx.obj = {"config": config}
    setup_logging()  # warnings from any command: one line each, secrets masked


cli.add_command(batch_command)
cli.add_command(config_group)
cli.add_command(edit_command)
cli.add_command(emulator_command)
cli.add_command(keys_group)
cli.add_command(models_command)
cli.add_command(plugins_command)


def main() -> None:
    cli(prog_name="imgedit")

"""The ``imgedit`` entry point: a click group whose commands load nothing heavy until run."""

from __future__ import annotations

import click

from .._version import __version__
from .logs import setup_logging

#: Each command and where it lives: a run imports only its own command's module.
COMMANDS: dict[str, str] = {
    "batch": "batch:batch_command",
    "config": "config:config_group",
    "edit": "edit:edit_command",
    "emulator": "emulator:emulator_command",
    "keys": "keys:keys_group",
    "models": "models:models_command",
    "plugins": "plugins:plugins_command",
}


class _LazyGroup(click.Group):
    """Commands imported when named (``imgedit edit`` never loads ``batch``); ``--help``, which
    lists them all, imports all of them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attr = COMMANDS[cmd_name].partition(":")
            # __import__, not importlib.import_module: -X importtime then sees the import too.
            loaded = __import__(f"{__package__}.{module}", fromlist=[attr])
            command = getattr(loaded, attr)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    cli(prog_name="imgedit")

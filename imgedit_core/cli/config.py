"""``imgedit config``: which files apply, what the effective settings are, and whether they hold."""

from __future__ import annotations

import click

from .context import config_path, make_client
from .guard import echo_json, guarded


@click.group("config")
def config_group() -> None:
    """Show and check configuration (docs/config.md)."""


@config_group.command("path")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def path_command(as_json: bool) -> None:
    """List the config files that apply, lowest precedence first, and the user file's place."""
    with guarded():
        from ..config import USER_FILE, config_files, user_config_dir

        files = config_files(config_path())
        user = user_config_dir() / USER_FILE
        rows = [(f.role, str(f.path)) for f in files]
        if not any(role == "user" for role, _ in rows):
            rows.insert(0, ("user", f"{user} (not present)"))
        if as_json:
            echo_json(
                {
                    "files": [{"role": f.role, "path": str(f.path)} for f in files],
                    "user_file": str(user),
                }
            )
            return
        for role, path in rows:
            click.echo(f"{role}\t{path}")


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_command(as_json: bool) -> None:
    """Print the effective settings and where each came from (keys are never shown)."""
    with guarded():
        from ..effective import effective_settings

        settings = effective_settings(make_client())
        if as_json:
            echo_json([s.to_dict() for s in settings])
            return
        from .table import render_table

        rows = [[s.key, _show(s.value), s.source] for s in settings]
        click.echo(render_table(["KEY", "VALUE", "FROM"], rows))


@config_group.command("validate")
def validate_command() -> None:
    """Check the config against the installed plugins; exit 2 and list every problem."""
    with guarded():
        import logging

        from ..config_check import config_problems

        # What the engine would only warn about at edit time is reported below as a problem.
        logging.getLogger("imgedit.config").setLevel(logging.ERROR)
        client = make_client()
        problems = config_problems(client)
        files = ", ".join(str(f.path) for f in client.config.files) or "no config files"
        if problems:
            from .guard import say

            for problem in problems:
                say(f"Error: {problem}")
            raise SystemExit(2)
        click.echo(f"ok: {files}")


def _show(value: object) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)

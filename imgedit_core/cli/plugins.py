"""``imgedit plugins``: what loaded, from where, and what failed and why."""

from __future__ import annotations

import click

from .guard import echo_json, guarded


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of each failure.")
def plugins_command(as_json: bool, verbose: bool) -> None:
    """List provider plugins, their versions, and any that failed to load."""
    with guarded():
        from ..plugins import load_plugins

        loaded = load_plugins()
        if as_json:
            echo_json(
                {
                    "plugins": [
                        {
                            "name": p.name,
                            "module": p.module,
                            "distribution": p.distribution,
                            "version": p.version,
                            "providers": list(p.providers),
                        }
                        for p in loaded.plugins
                    ],
                    "failures": [
                        {"name": f.name, "stage": f.stage, "error": f.error}
                        for f in loaded.failures
                    ],
                }
            )
            return
        from .table import render_table

        rows = [
            [p.name, p.version or "-", ", ".join(p.providers), "ok"] for p in loaded.plugins
        ] + [[f.name, "-", "-", f"FAILED ({f.stage}): {f.error}"] for f in loaded.failures]
        if not rows:
            click.echo("No plugins loaded (is IMGEDIT_LOAD_PLUGINS set to an empty value?).")
            return
        click.echo(render_table(["PLUGIN", "VERSION", "PROVIDERS", "STATUS"], rows))
        if verbose:
            for f in loaded.failures:
                click.echo(f"\n--- {f.name} ---\n{f.detail}", err=True)

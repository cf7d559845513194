"""``imgedit plugins``: what loaded, from where, and what failed and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .guard import echo_json, guarded

if TYPE_CHECKING:
    from ..client import Client


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of each failure.")
def plugins_command(as_json: bool, verbose: bool) -> None:
    """List provider plugins, their versions, and any that failed to load."""
    with guarded():
        from .context import make_client

        client = make_client()
        loaded = client.plugins
        instances = _instances(client)
        routes = dict(client.config.routes)
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
                    "instances": instances,
                    "routes": routes,
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
        if instances:
            click.echo("\nProvider instances from config:")
            click.echo(
                render_table(
                    ["INSTANCE", "USES", "BASE URL", "KEY ENV"],
                    [[i["name"], i["uses"], i["base_url"], i["key_env"] or "-"] for i in instances],
                )
            )
        for model, target in sorted(routes.items()):
            click.echo(f"route {model} -> {target}")
        if verbose:
            for f in loaded.failures:
                click.echo(f"\n--- {f.name} ---\n{f.detail}", err=True)


def _instances(client: Client) -> list[dict[str, Any]]:
    from ..instances import ProviderInstance

    return [
        {
            "name": p.name,
            "uses": p.base.name,
            "base_url": p.default_base_url,
            "key_env": p.key_env,
            "file": client.config.origin(f"providers.{p.name}.uses"),
        }
        for p in client.registry.providers
        if isinstance(p, ProviderInstance)
    ]

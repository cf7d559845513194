"""``imgedit models``: what each model accepts, as the core will enforce it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .guard import echo_json, guarded

if TYPE_CHECKING:
    from ..capabilities import Capabilities


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print every capability as JSON.")
def models_command(as_json: bool) -> None:
    """List models, their provider and capabilities."""
    with guarded():
        from ..client import Client

        client = Client()
        entries = list(client.registry.entries())
        if as_json:
            echo_json(
                [
                    {
                        "model": spec.name,
                        "provider": provider.name,
                        "aliases": list(spec.aliases),
                        "description": spec.description,
                        "capabilities": spec.capabilities.to_dict(),
                    }
                    for provider, spec in entries
                ]
            )
            return
        if not entries:
            click.echo("No models: no provider plugin loaded. Run `imgedit plugins`.", err=True)
            return
        from .table import render_table

        headers = ["MODEL", "PROVIDER", "OUTPUT", "MASK", "IMAGES", "N", "QUALITY", "SIZES"]
        rows = [[spec.name, provider.name, *_row(spec.capabilities)] for provider, spec in entries]
        click.echo(render_table(headers, rows))
        failed = client.plugins.failures
        if failed:
            names = ", ".join(f.name for f in failed)
            click.echo(
                f"\n{len(failed)} plugin(s) failed to load: {names}. See `imgedit plugins`.",
                err=True,
            )


def _row(caps: Capabilities) -> list[Any]:
    output = "/".join(k for k, on in (("b64", caps.b64_output), ("url", caps.url_output)) if on)
    n = str(caps.max_n) if caps.min_n == caps.max_n else f"{caps.min_n}-{caps.max_n}"
    sizes = ", ".join(sorted(caps.sizes)) or "input"
    if caps.custom_sizes is not None:
        sizes += ", WxH"
    return [
        output,
        "yes" if caps.mask else "no",
        str(caps.max_images),
        n,
        ",".join(sorted(caps.qualities)) or "-",
        sizes,
    ]

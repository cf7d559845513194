"""``imgedit models``: what each model accepts, as the core will enforce it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .guard import echo_json, guarded

if TYPE_CHECKING:
    from ..capabilities import Capabilities
    from ..client import Client


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print every capability as JSON.")
def models_command(as_json: bool) -> None:
    """List models, their provider and capabilities."""
    with guarded():
        from .context import make_client

        client = make_client()
        entries = list(client.registry.entries())
        config = client.config
        used = {spec.name: _used(client, spec.name) for _, spec in entries}
        if as_json:
            echo_json(
                [
                    {
                        "model": spec.name,
                        "provider": provider.name,
                        "selected": used[spec.name][0] == provider.name,
                        "route": config.route_for(spec.name) is not None,
                        "aliases": list(spec.aliases),
                        "config_aliases": sorted(
                            a for a, t in config.aliases.items() if t == spec.name
                        ),
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

        headers = [
            "MODEL",
            "PROVIDER",
            "USED",
            "OUTPUT",
            "MASK",
            "IMAGES",
            "N",
            "QUALITY",
            "SIZES",
        ]
        rows = [
            [
                spec.name,
                provider.name,
                _mark(used[spec.name], provider.name),
                *_row(spec.capabilities),
            ]
            for provider, spec in entries
        ]
        click.echo(render_table(headers, rows))
        for alias, target in sorted(config.aliases.items()):
            click.echo(f"alias {alias} -> {target}  ({config.origin(f'aliases.{alias}')})")
        for model, target in sorted(config.routes.items()):
            click.echo(f"route {model} -> {target}  ({config.origin(f'routes.{model}')})")
        failed = client.plugins.failures
        if failed:
            names = ", ".join(f.name for f in failed)
            click.echo(
                f"\n{len(failed)} plugin(s) failed to load: {names}. See `imgedit plugins`.",
                err=True,
            )


def _used(client: Client, model: str) -> tuple[str | None, str]:
    """Which provider an edit of ``model`` goes to, and why: ``route``, ``yes`` or a problem."""
    from ..errors import AmbiguousModelError, ImgeditError

    try:
        resolved = client.registry.resolve(model)
    except AmbiguousModelError:
        return None, "ambiguous"
    except ImgeditError:
        return None, "error"
    return resolved.provider.name, "route" if client.config.route_for(model) else "yes"


def _mark(used: tuple[str | None, str], provider: str) -> str:
    chosen, why = used
    if chosen is None:
        return why
    return why if chosen == provider else "-"


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

"""``imgedit keys``: store API keys outside the shell's history and environment."""

from __future__ import annotations

import sys

import click

from .guard import echo_json, guarded


@click.group("keys")
def keys_group() -> None:
    """Store API keys (lookup order: --api-key, then the environment, then stored keys)."""


@keys_group.command("set")
@click.argument("name")
@click.option("--keyring", "use_keyring", is_flag=True, help="Store in the OS keyring.")
def set_command(name: str, use_keyring: bool) -> None:
    """Store the key for NAME: a variable such as COMETAPI_KEY, or a provider's name.

    The key is typed without echo, or read from stdin when it is piped.
    """
    with guarded():
        from ..keys import KeyStore

        variable = _variable(name)
        if sys.stdin.isatty():
            value = click.prompt(
                f"Key for {variable}", hide_input=True, default="", show_default=False
            )
        else:  # `pass show comet | imgedit keys set COMETAPI_KEY`
            value = sys.stdin.readline()
        store = KeyStore()
        store.set(variable, value.strip(), keyring=use_keyring)
        where = "the OS keyring" if use_keyring else str(store.path)
        click.echo(f"stored {variable} in {where}", err=True)


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_command(as_json: bool) -> None:
    """List stored key names (never their values)."""
    with guarded():
        from ..keys import KeyStore

        store = KeyStore()
        names = store.names()
        if as_json:
            echo_json([{"name": n, "store": store.where(n)} for n in names])
            return
        for name in names:
            click.echo(f"{name}\t{store.where(name)}")


@keys_group.command("path")
def path_command() -> None:
    """Print where stored keys are kept."""
    with guarded():
        from ..keys import keys_path

        click.echo(str(keys_path()))


@keys_group.command("remove")
@click.argument("name")
def remove_command(name: str) -> None:
    """Forget the stored key for NAME."""
    with guarded():
        from ..errors import ConfigError
        from ..keys import KeyStore

        variable = _variable(name)
        if not KeyStore().delete(variable):
            raise ConfigError(f"no stored key named {variable}; `imgedit keys list` shows them.")
        click.echo(f"removed {variable}", err=True)


def _variable(name: str) -> str:
    """A provider's name stands for the environment variable its key lives in."""
    from ..errors import ConfigError
    from ..keys import check_name

    if "-" in name or not name.isupper():
        from .context import make_client

        client = make_client()
        for provider in client.registry.providers:
            if provider.name == name:
                from ..settings import key_env_for

                variable = key_env_for(provider, client.config.providers.get(name))
                if variable:
                    return variable
                raise ConfigError(f"provider {name} takes no API key; nothing to store.")
        known = ", ".join(sorted(p.name for p in client.registry.providers))
        raise ConfigError(
            f"{name!r} is neither a provider ({known}) nor a key variable such as COMETAPI_KEY "
            f"(upper-case letters, digits and _)."
        )
    return check_name(name)

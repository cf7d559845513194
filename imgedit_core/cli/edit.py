"""``imgedit edit``: one edit, saved to disk, paths printed."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .guard import echo_json, guarded
from .logs import setup_logging

log = logging.getLogger("imgedit")
OFFLINE_NOTICE = (
    "offline: the built-in emulator answers (a visible stand-in edit, not a model); "
    "nothing is sent over the network"
)

if TYPE_CHECKING:
    from ..client import Client, PreparedEdit
    from ..result import EditResult
    from .live import Spinner


def _parse_option(values: tuple[str, ...]) -> dict[str, Any]:
    import json

    extra: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        try:
            extra[key] = json.loads(raw)
        except ValueError:
            extra[key] = raw
    return extra


@click.command("edit")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-p", "--prompt", required=True, help="What to change, in words.")
@click.option(
    "-m",
    "--model",
    help="Model name or alias (env: IMGEDIT_MODEL, config: defaults.model; else gpt-image-2). "
    "`imgedit models` lists them.",
)
@click.option("--provider", help="Provider to use when several serve the model.")
@click.option(
    "--api-key",
    help="API key for this run (beats the environment and stored keys). Visible to other "
    "users in the process list: prefer the environment or `imgedit keys set`.",
)
@click.option("--mask", type=click.Path(dir_okay=False), help="PNG with alpha: transparent = edit.")
@click.option("-n", "n", type=int, help="How many images to make.")
@click.option("--quality", help="low, medium, high or auto (GPT image models).")
@click.option("--size", help="WIDTHxHEIGHT or auto, as the model allows.")
@click.option("--output-format", help="png, jpeg or webp (default: from -o's suffix, else png).")
@click.option("--output-compression", type=int, help="0-100, for jpeg and webp.")
@click.option("--background", help="transparent, opaque or auto.")
@click.option("--input-fidelity", help="high or low (gpt-image-1 and 1.5).")
@click.option("--response-format", help="url or b64_json (URL-capable models only).")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A provider-specific option, e.g. watermark=false. Repeatable.",
)
@click.option(
    "-o",
    "--output",
    help="File or folder to write, or - for stdout. Default: <image>-edited.<ext> beside the "
    "first image. With several images, -1, -2... are added, or put {index} in the name.",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option(
    "--timeout",
    metavar="SECONDS|PHASE=SECONDS,...",
    help="How long to wait: one number for every phase, or e.g. connect=5,read=900,write=120,"
    "pool=30. Default: read and write 600, connect 10, pool 30 (edits take minutes).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    help="Retries after a connection failure, 408, 409, 429 or 5xx (default 2; a read "
    "timeout is not retried). A retried edit may be billed again; 0 turns retries off.",
)
@click.option(
    "--offline",
    is_flag=True,
    default=None,
    help="Send nothing over the network: the built-in emulator of the edit route answers "
    "(a visible stand-in edit, not a model; no key needed). Env: IMGEDIT_OFFLINE=1.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the request that would be sent (key redacted) and send nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of paths.")
@click.option("-q", "--quiet", is_flag=True, help="No retry or progress lines on stderr.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
def edit_command(
    images: tuple[str, ...],
    prompt: str,
    model: str | None,
    provider: str | None,
    api_key: str | None,
    mask: str | None,
    options: tuple[str, ...],
    output: str | None,
    force: bool,
    timeout: str | None,
    max_retries: int | None,
    offline: bool | None,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
    verbose: int,
    **fields: Any,
) -> None:
    """Edit IMAGE(s) as the prompt says and write the result.

    Prints each written path on its own line (or a JSON summary with --json).
    """
    extra = _parse_option(options)
    setup_logging(verbose, quiet)
    if api_key:
        from ..redact import remember

        remember(api_key)
    with guarded(sends_edits=True):
        from ..output_names import check_suffix, output_format_for
        from .context import make_client

        with make_client(
            timeout=timeout, max_retries=max_retries, api_key=api_key, offline=offline
        ) as client:
            resolved = client.resolve(model, provider)
            caps = resolved.spec.capabilities
            fields["output_format"] = output_format_for(
                fields.get("output_format"),
                output,
                caps.output_formats,
                caps.default_output_format,
                resolved.model,
            )
            prepared = client.prepare(
                list(images),
                prompt,
                model=model,
                provider=provider,
                mask=mask if mask is not None else _not_given(),
                extra=extra,
                require_key=not dry_run,
                **fields,
            )
            check_suffix(prepared, output)
            if dry_run:
                _print_dry_run(prepared, client, as_json)
                return
            to_stdout = output == "-"
            paths = [] if to_stdout else _plan(prepared, output, force)
            if to_stdout:
                _check_stdout(prepared, as_json)
            if client.offline:
                log.warning(OFFLINE_NOTICE)
            with _spinner(prepared, client.offline, quiet) as spinner:
                result = client.send(prepared)
                if any(image.url for image in result.images):  # qwen answers with URLs
                    spinner.update(f"downloading {len(result.images)} image(s)")
                datas = [image.data for image in result.images]  # all or nothing before writing
            if to_stdout:
                sys.stdout.buffer.write(datas[0])
                sys.stdout.buffer.flush()
                return
            written = _write(result, datas, paths, output, prepared, force)
        if as_json:
            echo_json(_summary(result, written, prepared))
        else:
            for path in written:
                click.echo(str(path))


def _spinner(prepared: PreparedEdit, offline: bool, quiet: bool) -> Spinner:
    """A spinner on stderr while the answer (and any URL output) is awaited, for a person at a
    terminal; nothing when stderr is piped, with -q or IMGEDIT_NO_PROGRESS.

    It runs with ``-o -`` too: the image goes to stdout, the spinner to stderr, which is still
    the terminal in ``imgedit edit ... -o - > out.png``.
    """
    from .live import Spinner, live_enabled

    label = f"editing with {prepared.resolved.model} via {prepared.resolved.provider.name}"
    return Spinner(label + (" (offline)" if offline else ""), enabled=live_enabled(quiet))


def _print_dry_run(prepared: PreparedEdit, client: Client, as_json: bool) -> None:
    """What would cross the wire, with the key redacted, and how long it would be waited for."""
    from ..wire import decode_request

    view = decode_request(prepared.http_request).to_dict()
    view["provider"] = prepared.resolved.provider.name
    timeout, retry = client.limits(prepared.resolved.provider.name)
    view["timeout"] = timeout.as_dict()
    view["max_retries"] = retry.max_retries
    provider = prepared.resolved.provider
    view["key_missing"] = bool(provider.key_env and not prepared.settings.api_key)
    view["offline"] = client.offline
    if as_json:
        echo_json(view)
        return
    click.echo(f"{view['method']} {view['url']}")
    click.echo(f"provider: {view['provider']}")
    if client.offline:
        click.echo("offline: the built-in emulator would answer; nothing leaves this machine")
    timeouts = " ".join(f"{k}={v:g}s" for k, v in view["timeout"].items())
    click.echo(f"timeout: {timeouts}; max retries: {view['max_retries']}")
    for name, value in view["headers"].items():
        click.echo(f"{name}: {value}")
    for name, value in view["fields"].items():
        click.echo(f"field {name} = {value}")
    for part in view["files"]:
        click.echo(
            f"file {part['name']}: {part['filename']} ({part['content_type']}, "
            f"{part['size']} bytes)"
        )
    if view["key_missing"]:
        click.echo(f"note: {provider.key_env} is not set; a real run would stop here.")
    click.echo("(dry run: nothing was sent)")


def _check_stdout(prepared: PreparedEdit, as_json: bool) -> None:
    from ..errors import UserError

    if as_json:
        raise UserError("-o - writes the image to stdout, so it cannot be combined with --json.")
    if prepared.request.expected_count() != 1:
        raise UserError("-o - writes one image to stdout; with -n above 1, name files instead.")
    if _stdout_is_terminal():
        raise UserError("-o - would print image bytes to the terminal; pipe or redirect it.")


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _not_given() -> Any:
    from ..sentinel import NOT_GIVEN

    return NOT_GIVEN


def _plan(prepared: PreparedEdit, output: str | None, force: bool) -> list[Path]:
    from ..output_names import check_free, expected_media_type, plan_outputs

    first = prepared.request.images[0].path
    count = prepared.request.expected_count()
    paths = plan_outputs(output, first, count, expected_media_type(prepared))
    check_free(paths, force=force)
    return paths


def _write(
    result: EditResult,
    datas: list[bytes],
    paths: list[Path],
    output: str | None,
    prepared: PreparedEdit,
    force: bool,
) -> list[Path]:
    from ..files import write_atomic
    from ..output_names import expected_media_type, plan_outputs

    if len(datas) > len(paths):  # more than asked: keep the planned names, number the rest
        first = prepared.request.images[0].path
        more = plan_outputs(output, first, len(datas), expected_media_type(prepared))
        paths = paths + [p for p in more if p not in paths][: len(datas) - len(paths)]
    # Fewer than asked: the planned names were checked before sending; use the first ones.
    return [write_atomic(p, d, overwrite=force) for p, d in zip(paths, datas, strict=False)]


def _summary(result: EditResult, written: list[Path], prepared: PreparedEdit) -> dict[str, Any]:
    from ..sentinel import is_given

    size = result.size or (prepared.request.size if is_given(prepared.request.size) else None)
    return {
        "paths": [str(p) for p in written],
        "model": result.model,
        "provider": result.provider,
        "size": size,
        "output_format": result.output_format,
        "images": [
            {"path": str(p), "media_type": img.media_type, "bytes": len(img.data), "url": img.url}
            for p, img in zip(written, result.images, strict=False)
        ],
        "usage": result.usage.to_dict() if result.usage else None,
        "created": result.created,
    }

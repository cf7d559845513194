"""``imgedit emulator``: CometAPI's edit route, emulated on a local port, until Ctrl-C."""

from __future__ import annotations

import click


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8089,
    show_default=True,
    help="Port to listen on; 0 picks a free one (the first line printed says which).",
)
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Wait this long before every answer.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="A fault for the next request; repeat for a plan consumed one per request "
    "(e.g. --fault 503*2 --fault ok). SPEC is KIND[:NAME=VALUE,...][*COUNT], KIND one of: "
    "ok, latency=S, a status (200, 400-599), invalid-request, reset, truncate, early-close, "
    "html, redirect, bad-b64, oversize, not-image. See docs/emulator.md.",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY",
    help="Accept only this key (repeatable). By default any non-empty bearer key is accepted.",
)
@click.option(
    "--aggregator-extras",
    is_flag=True,
    help="Answer GPT edits in the aggregator's shape (extra usage fields, no top-level size).",
)
@click.option(
    "--cache",
    is_flag=True,
    help="Render identical edit requests once and answer repeats from memory (benchmarks).",
)
@click.option("-v", "--verbose", is_flag=True, help="Print one line per request on stderr.")
def emulator_command(
    host: str,
    port: int,
    latency: float,
    faults: tuple[str, ...],
    api_keys: tuple[str, ...],
    aggregator_extras: bool,
    cache: bool,
    verbose: bool,
) -> None:
    """Serve an emulator of CometAPI's POST /v1/images/edits on HOST:PORT.

    It checks requests as the route does, answers with a visible, deterministic edit (an
    emulator, not a model) and injects the faults you ask for. The first line printed is the
    base URL; point imgedit (or any OpenAI SDK) at it:

    \b
      imgedit emulator --port 8089 &
      export COMETAPI_BASE_URL=http://127.0.0.1:8089/v1 COMETAPI_KEY=any
      imgedit edit boat.png -p "Add a small red ribbon to the paper boat"

    Stop it with Ctrl-C or SIGTERM.
    """
    import signal
    import sys
    import threading

    from ..emulator import Emulator, EmulatorServer, FaultSpecError, parse_fault

    for spec in faults:
        try:
            parse_fault(spec)
        except FaultSpecError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from None
    emulator = Emulator(
        faults=faults,
        latency=latency,
        api_keys=api_keys or None,
        aggregator_extras=aggregator_extras,
        cache=cache,
    )
    server = EmulatorServer(emulator, host=host, port=port, verbose=verbose)
    try:
        server.start()
    except OSError as exc:
        from .guard import say

        say(
            f"Error: cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another port "
            f"with --port, or --port 0 for a free one."
        )
        raise SystemExit(2) from None

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    click.echo(server.base_url)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    count = len(server.requests)
    click.echo(
        f"imgedit emulator: stopped after {count} request{'' if count == 1 else 's'}.", err=True
    )

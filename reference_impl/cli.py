"""The reference implementation's commands: `up`, `call`, `sidecar`, `control-plane`.

`meshspec` finds them through the `meshspec.commands` entry points;
`python -m reference_impl` offers the same commands on their own. The parts
print one JSON line on stdout when ready (what `up` waits for) and log to
stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from meshspec.cli_options import HEADER_HELP, file_option, input_paths, parse_headers
from reference_impl.calls import Caller, CallError, Tally, outbound_port, split_url

DEFAULT_STATE = ".meshspec/state.json"
SUPERVISE_INTERVAL = 0.5  # seconds between `up`'s checks that its parts still run


def _ready(**fields: Any) -> None:
    click.echo(json.dumps({"ready": True, **fields}), nl=True)
    sys.stdout.flush()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )


def _use_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()


@click.command(name="control-plane", short_help="Run the reference control plane alone.")
@click.argument("paths", nargs=-1)
@file_option()
@click.option(
    "--pki-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Holds root.pem, root-key.pem and entitlements.json (as `up` writes them).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=15010, show_default=True, help="Port to listen on.")
@click.option(
    "--cert-ttl",
    type=float,
    default=3600.0,
    show_default=True,
    help="Certificate lifetime, seconds.",
)
@click.option(
    "--grace",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds a lost stream's endpoint stays.",
)
@click.option(
    "--settle",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to gather registrations before pushing.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level to stderr.")
def control_plane(
    paths: tuple[str, ...],
    filenames: tuple[str, ...],
    pki_dir: Path,
    host: str,
    port: int,
    cert_ttl: float,
    grace: float,
    settle: float,
    verbose: bool,
) -> None:
    """Serve a spec (re-read on change), endpoints and certificates to sidecars."""
    from reference_impl.control_plane import (
        BootstrapError,
        CertificateService,
        ControlPlane,
        Entitlements,
        NoSpec,
        SpecStore,
    )
    from reference_impl.control_plane.bootstrap import ENTITLEMENTS_FILE
    from reference_impl.pki import CertificateAuthority

    _logging(verbose)
    try:
        authority = CertificateAuthority.load(pki_dir)
        entitlements = Entitlements.read(pki_dir / ENTITLEMENTS_FILE)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot use the PKI in {pki_dir}: {exc}") from None
    store = SpecStore(input_paths(paths, filenames))

    async def serve() -> None:
        certs = CertificateService(authority, cert_ttl)
        cp = ControlPlane(
            store, certs, entitlements, host=host, port=port, grace=grace, settle=settle
        )
        await cp.start()
        _ready(port=cp.port)
        try:
            await _until_signalled()
        finally:
            await cp.stop()

    _use_uvloop()
    try:
        asyncio.run(serve())
    except NoSpec as exc:
        raise click.ClickException(str(exc)) from None
    except BootstrapError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        _exit_if_port_taken(exc, f"{host}:{port}")
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None


@click.command(short_help="Run one reference sidecar alone.")
@click.option(
    "--bootstrap",
    "bootstrap_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The workload's bootstrap (mode 0600): who it is, its secret, the root to pin.",
)
@click.option("--inbound-port", type=int, required=True, help="Listener of the default port.")
@click.option(
    "--port-listener",
    "port_listeners",
    multiple=True,
    help="SERVICE_PORT=LISTEN_PORT: the inbound listener of another service port.",
)
@click.option("--outbound-port", type=int, required=True, help="Port the app sends through.")
@click.option("--admin-port", type=int, required=True, help="Port of /ready, /metrics, /config.")
@click.option("--app-port", type=int, required=True, help="Port of the application.")
@click.option("--app-host", default="127.0.0.1", show_default=True, help="Host of the application.")
@click.option("--echo", is_flag=True, help="Run the built-in echo application on the app port.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Log at INFO level and one JSON line per decision."
)
def sidecar(
    bootstrap_file: Path,
    inbound_port: int,
    port_listeners: tuple[str, ...],
    outbound_port: int,
    admin_port: int,
    app_port: int,
    app_host: str,
    echo: bool,
    verbose: bool,
) -> None:
    """Run one sidecar (and optionally the echo application) fed by a control plane."""
    from reference_impl.control_plane import Bootstrap, BootstrapError, ControlPlaneClient
    from reference_impl.echo import EchoIdentity, start_echo
    from reference_impl.proxy import Sidecar, SidecarConfig

    listeners = []
    for item in port_listeners:
        service_port, _, listen = item.partition("=")
        if not (service_port.isdigit() and listen.isdigit()):
            raise click.BadParameter(f"{item!r}: write SERVICE_PORT=LISTEN_PORT")
        listeners.append((int(service_port), int(listen)))
    _logging(verbose)
    if verbose:
        from reference_impl.metrics import DECISIONS, json_log_handler

        DECISIONS.addHandler(json_log_handler(sys.stderr))  # one JSON line per decision
        DECISIONS.propagate = False
    try:
        bootstrap = Bootstrap.read(bootstrap_file)
    except BootstrapError as exc:
        raise click.ClickException(str(exc)) from None
    service, version, instance = (
        bootstrap.workload.service,
        bootstrap.workload.version,
        bootstrap.workload.instance,
    )

    async def serve() -> None:
        app = None
        if echo:
            app = await start_echo(EchoIdentity(service, version, instance), app_host, app_port)
        proxy = Sidecar(
            SidecarConfig(
                service=service,
                version=version,
                instance=instance,
                inbound_port=inbound_port,
                inbound_ports=tuple(listeners),
                outbound_port=outbound_port,
                app_host=app_host,
                app_port=app_port,
                admin_port=admin_port,
            )
        )
        await proxy.start()
        node = proxy.endpoint()
        client = ControlPlaneClient(proxy, node, bootstrap)
        await client.start()
        try:
            while not proxy.ready:
                await asyncio.sleep(0.02)
            _ready(service=service, version=version, instance=instance)
            await _until_signalled()
        finally:
            await client.stop()
            await proxy.stop()
            if app is not None:
                app.close()

    _use_uvloop()
    try:
        asyncio.run(serve())
    except OSError as exc:
        _exit_if_port_taken(exc, "one of its ports")
        raise


def _exit_if_port_taken(exc: OSError, where: str) -> None:
    """Exit with the code that tells the runner to start again on other ports."""
    if exc.errno == errno.EADDRINUSE:
        from reference_impl.runner import EXIT_PORT_TAKEN

        click.echo(f"error: cannot listen on {where}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_PORT_TAKEN)


STATE_HELP = "Where `up` writes its ports and pids and `call` reads them (relative to the cwd)."


@click.command(short_help="Run a spec on this machine with the reference mesh.")
@click.argument("paths", nargs=-1)
@file_option()
@click.option("--state-file", default=DEFAULT_STATE, show_default=True, help=STATE_HELP)
@click.option(
    "--instances", type=int, default=1, show_default=True, help="Instances per service version."
)
@click.option(
    "--app",
    "apps",
    multiple=True,
    help="SERVICE[:VERSION]=PORT of an application that already runs.",
)
@click.option(
    "--cert-ttl",
    type=float,
    default=3600.0,
    show_default=True,
    help="Certificate lifetime, seconds.",
)
def up(
    paths: tuple[str, ...],
    filenames: tuple[str, ...],
    state_file: str,
    instances: int,
    apps: tuple[str, ...],
    cert_ttl: float,
) -> None:
    """Run the spec on this machine: a control plane, sidecars, echo apps. Ctrl-C stops all.

    A control plane that dies or stops answering is restarted (sidecars serve
    on their last snapshot meanwhile); if it cannot be kept running, `up` stops everything and
    exits with an error. A sidecar that dies is reported.

    It writes a state file (--state-file, relative to the current directory)
    that `meshspec call` reads: run `call` from the same directory.

    \b
    Example:
      meshspec up examples/canary/mesh.yaml
      meshspec call --from frontend http://checkout/cart   # in another terminal
    """
    from meshspec.cli import EXIT_FINDINGS, emit_diagnostics
    from meshspec.loader import load_paths
    from reference_impl.runner import Mesh, MeshFailure, StartupError, write_state

    paths = input_paths(paths, filenames)
    result = load_paths(paths)
    if not result.ok or result.spec is None:
        emit_diagnostics(result.diagnostics)
        click.echo("up needs a spec without errors", err=True)
        sys.exit(EXIT_FINDINGS)
    own: dict[str, int] = {}
    for entry in apps:
        name, found, port = entry.rpartition("=")
        if not found or not port.isdigit():
            raise click.UsageError(f"--app {entry!r} is not SERVICE[:VERSION]=PORT")
        own[name] = int(port)
    state_path = Path(state_file)
    mesh = Mesh(
        list(paths),
        result.spec,
        instances=instances,
        apps=own,
        log_dir=state_path.parent / "logs",
        cert_ttl=cert_ttl,
    )
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        state = mesh.start()
        write_state(state_path, state)
        _print_table(state.to_json(), state_path)
        while True:
            time.sleep(SUPERVISE_INTERVAL)
            events = mesh.supervise()
            for event in events:
                click.echo(event, err=True)
            if events:
                write_state(state_path, mesh.state)
    except KeyboardInterrupt:
        pass
    except (StartupError, MeshFailure) as exc:
        raise click.ClickException(f"{exc} (logs in {state_path.parent / 'logs'})") from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        mesh.stop()
        with contextlib.suppress(FileNotFoundError):
            state_path.unlink()
    click.echo("stopped", err=True)


def _print_table(state: dict[str, Any], state_path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    cp = state["controlPlane"]
    table = Table(title=f"control plane 127.0.0.1:{cp['port']} (pid {cp['pid']})")
    for column in ("service", "version", "instance", "app", "inbound", "outbound", "admin", "pid"):
        table.add_column(column)
    for i in state["instances"]:
        app = f"{i['appPort']}{' (echo)' if i['echo'] else ''}"
        table.add_row(
            i["service"],
            i["version"] or "-",
            i["instance"],
            app,
            str(i["inboundPort"]),
            str(i["outboundPort"]),
            str(i["adminPort"]),
            str(i["pid"]),
        )
    console = Console(width=max(140, shutil.get_terminal_size().columns))
    console.print(table)
    console.print(f"state: {state_path}   stop: Ctrl-C")
    sys.stdout.flush()


@click.command(short_help="Send requests through a sidecar of a running `meshspec up`.")
@click.argument("url")
@click.option("--from", "sender", required=True, help="The sending service (name or ns/name).")
@click.option("--state-file", default=DEFAULT_STATE, show_default=True, help=STATE_HELP)
@click.option("-X", "--method", default="GET", show_default=True, help="HTTP method.")
@click.option("-H", "--header", "headers", multiple=True, help=HEADER_HELP)
@click.option(
    "-n",
    "--count",
    "count",
    type=int,
    default=1,
    show_default=True,
    help="Requests to send; above 1, a JSON tally of statuses and versions is printed.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: status, headers and body as one object (the tally when -n > 1).",
)
def call(
    url: str,
    sender: str,
    state_file: str,
    method: str,
    headers: tuple[str, ...],
    count: int,
    output: str,
) -> None:
    """Send requests to http://SERVICE/PATH through SENDER's sidecar.

    It reads the state file `meshspec up` wrote, so run it in the directory
    where `up` runs (or pass the same --state-file).

    \b
    Example:
      meshspec call --from frontend -n 200 -o json http://checkout/cart
    """
    from reference_impl.runner import read_state

    header_map = dict(parse_headers(headers))
    try:
        state = read_state(Path(state_file))
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"cannot read state file {state_file}: {exc}; is `meshspec up` running "
            "from this directory? (or pass the --state-file it uses)"
        ) from None
    try:
        port = outbound_port(state, sender)
        host, target = split_url(url)
        caller = Caller(port)
        tally = Tally()
        last = None
        for _ in range(count):
            last = caller.send(method.upper(), host, target, header_map)
            tally.add(last)
        caller.close()
    except (CallError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if output == "json" and count > 1:
        click.echo(json.dumps(tally.to_json()))
        return
    assert last is not None
    if output == "json":
        body: Any = last.body.decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            body = json.loads(last.body)
        click.echo(json.dumps({"status": last.status, "headers": last.headers, "body": body}))
        return
    click.echo(f"HTTP {last.status}")
    for name, value in last.headers:
        click.echo(f"{name}: {value}")
    click.echo("")
    click.echo(last.body.decode("utf-8", "replace"))
    if count > 1:
        click.echo(json.dumps(tally.to_json()), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The reference implementation's parts, runnable on their own."""


for command in (up, call, sidecar, control_plane):
    main.add_command(command)

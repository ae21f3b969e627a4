"""Where a sidecar pair spends its CPU: both sidecars in one process under cProfile.

The benchmark runs each sidecar in its own process, fed by a control plane;
here the client's and the server's sidecar share one event loop and get their
snapshot and credentials directly, so one profile covers the whole path
(outbound, mTLS, inbound) while wrk drives it. Run:
`python -m bench.proxy.profile [--mode STRICT|DISABLE] [--seconds 5] [--top 40] [--unique-ids]`.
The profiler's clock is the process's CPU time, not the wall clock: on a
shared machine a wall clock charges the time the process was preempted to
whatever function was running (most often a socket write).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import time

from ruamel.yaml import YAML

from bench.proxy.load import generate
from bench.proxy.run import echo_app, spec_text
from reference_impl.pki import CertificateAuthority
from reference_impl.proxy import Sidecar, SidecarConfig
from reference_impl.snapshot import Endpoint, Snapshot

TRUST_DOMAIN = "cluster.local"


def _snapshot(mode: str, server_port: int) -> Snapshot:
    yaml = YAML(typ="safe", pure=True)
    documents = tuple(dict(d) for d in yaml.load_all(io.StringIO(spec_text(mode))) if d)
    server = Endpoint("bench/server", "v1", "server-0", "127.0.0.1", server_port)
    return Snapshot(version=1, documents=documents, endpoints=(server,))


async def start_pair(mode: str, app_port: int) -> tuple[Sidecar, Sidecar]:
    """The client and server sidecars with their identities and the bench snapshot, started."""
    ca = CertificateAuthority.create(TRUST_DOMAIN)
    client = Sidecar(SidecarConfig("bench/client", "v1", "client-0", 0, 0, "127.0.0.1", 1, 0))
    server = Sidecar(
        SidecarConfig("bench/server", "v1", "server-0", 0, 0, "127.0.0.1", app_port, 0)
    )
    for sidecar, account in ((client, "client"), (server, "server")):
        creds = ca.issue(f"spiffe://{TRUST_DOMAIN}/ns/bench/sa/{account}")
        sidecar.set_credentials(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem)
    await server.start()
    await client.start()
    snapshot = _snapshot(mode, server.inbound_port)
    for sidecar in (client, server):
        sidecar.apply_snapshot(snapshot)
    return client, server


async def _profile(
    mode: str, app_port: int, seconds: float, connections: int, unique_ids: bool
) -> cProfile.Profile:
    client, server = await start_pair(mode, app_port)
    loop = asyncio.get_running_loop()
    port = client.outbound_port
    await loop.run_in_executor(None, generate, port, "server", connections, 1.0, unique_ids)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    load = await loop.run_in_executor(
        None, generate, port, "server", connections, seconds, unique_ids
    )
    profiler.disable()
    print(f"{load.requests} requests, {load.rps:.0f} req/s, {load.errors} errors", file=sys.stderr)
    await client.stop()
    await server.stop()
    return profiler


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy.profile")
    parser.add_argument("--mode", default="STRICT", choices=["STRICT", "DISABLE"])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument(
        "--unique-ids", action="store_true", help="a new x-request-id in every request"
    )
    args = parser.parse_args(argv)
    import uvloop

    with echo_app() as (app_port, _pid), asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
        profiler = r.run(
            _profile(args.mode, app_port, args.seconds, args.connections, args.unique_ids)
        )
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main(sys.argv[1:])

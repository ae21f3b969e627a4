"""One run, every target: direct to the echo app, haproxy, an Envoy pair, the sidecar pair.

The sidecar pair is the realistic path: client -> client's sidecar (outbound)
-> server's sidecar (inbound) -> echo app, in plain HTTP and with mTLS between
the sidecars. The Envoy pair (`bench.proxy.envoy`) does the same with Envoy,
the users' alternative, and is the anchor the sidecars are compared with.
CPU per request is the user+system time of the proxy processes (from /proc)
over the requests served at saturation (wrk); added latency is a target's
percentiles minus the direct ones, at saturation and at a fixed 1,000 req/s
(fortio, `bench.proxy.fortio`). Everything listens on 127.0.0.1 and is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bench.proxy.envoy import envoy_binary, envoy_pair
from bench.proxy.fortio import RateResult, fixed_rate, fortio_binary
from bench.proxy.load import LoadResult, generate
from meshspec.loader import load_paths
from reference_impl.runner import Mesh, free_ports, stop_all

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: bench}
spec: {mtls: {mode: %s}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client, namespace: bench}
spec:
  ports: [{port: 80, name: http}]
  versions: [{name: v1}]
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: server, namespace: bench}
spec:
  ports: [{port: 80, name: http}]
  versions: [{name: v1}]
  routes:
    - name: all
      matches: [{path: {prefix: /}}]
      backends: [{version: v1, weight: 100}]
      timeout: 15s
  authorization:
    default: deny
    rules: [{name: bench-allow, action: ALLOW%s}]
"""

#: who the server's rule allows, as the Envoy pair's RBAC: the client's identity with
#: mTLS, anyone in plaintext (a plaintext peer has no identity to name)
ALLOWED = {"STRICT": ", from: [{services: [client]}]", "DISABLE": ""}


def spec_text(mode: str) -> str:
    """The bench's mesh: what the Envoy pair is configured to do (`envoy.py`)."""
    return SPEC % (mode, ALLOWED[mode])


HAPROXY_CFG = """\
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend bench
    bind 127.0.0.1:{port}
    default_backend echo
backend echo
    server echo 127.0.0.1:{app_port}
"""


def cpu_split(pids: Sequence[int]) -> tuple[float, float]:
    """(utime, stime) of the processes, in seconds: user space and the kernel's share."""
    ticks = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        user += int(fields[11])
        system += int(fields[12])
    return user / ticks, system / ticks


@dataclass(frozen=True)
class Measured:
    name: str
    load: LoadResult
    cpu_us_per_request: float | None
    fixed: RateResult | None = None
    rounds: int = 1
    kernel_share: float | None = None  # of the CPU, the part spent in the kernel (stime)


@dataclass(frozen=True)
class Settings:
    connections: int
    duration: float
    rate: float
    rate_seconds: float
    rate_connections: int
    #: fortio, when the fixed-rate part runs
    fortio: str | None


def pool(rounds: list[Measured]) -> Measured:
    """One target's turns together: requests, seconds and CPU summed, percentiles' medians."""
    loads = [m.load for m in rounds]
    requests = sum(x.requests for x in loads)
    cpus = [m.cpu_us_per_request for m in rounds]
    cpu = (
        None
        if any(c is None for c in cpus)
        else sum((c or 0.0) * x.requests for c, x in zip(cpus, loads, strict=True)) / requests
    )
    load = LoadResult(
        requests,
        sum(x.errors for x in loads),
        sum(x.seconds for x in loads),
        median(x.p50_us for x in loads),
        median(x.p99_us for x in loads),
        loads[0].tool,
    )
    fixed_runs = [m.fixed for m in rounds if m.fixed is not None]
    fixed = (
        RateResult(
            fixed_runs[0].rate,
            min(f.actual_rate for f in fixed_runs),
            sum(f.requests for f in fixed_runs),
            sum(f.errors for f in fixed_runs),
            median(f.p50_us for f in fixed_runs),
            median(f.p90_us for f in fixed_runs),
            median(f.p99_us for f in fixed_runs),
        )
        if fixed_runs
        else None
    )
    shares = [m.kernel_share for m in rounds if m.kernel_share is not None]
    kernel = median(shares) if shares else None
    return Measured(rounds[0].name, load, cpu, fixed, len(rounds), kernel)


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    pids: list[int]
    #: every request with an `x-request-id` of its own (else the same `GET /` each time)
    unique_ids: bool = False


#: the variant of a target whose requests each carry a new `x-request-id`
UNIQUE = ", unique id"


def measure(target: Target, host: str, s: Settings) -> Measured:
    port, pids, unique = target.port, target.pids, target.unique_ids
    generate(port, host, s.connections, 1.0, unique)  # warm-up: connections, pools, caches
    user0, sys0 = cpu_split(pids)
    load = generate(port, host, s.connections, s.duration, unique)
    user1, sys1 = cpu_split(pids)
    used = (user1 - user0) + (sys1 - sys0)
    cpu = used / load.requests * 1e6 if pids and load.requests else None
    kernel = (sys1 - sys0) / used if pids and used > 0 else None
    # The fixed rate sends identical requests: the unique-id kind differs in CPU, not in
    # what a hop adds to a request's time.
    fixed = (
        fixed_rate(s.fortio, port, host, s.rate, s.rate_seconds, s.rate_connections)
        if s.fortio is not None and s.rate > 0 and not unique
        else None
    )
    name = target.name
    return Measured(name, load, cpu, fixed, kernel_share=kernel)


def ensure_haproxy(install: bool) -> str | None:
    found = shutil.which("haproxy")
    if found or not install:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("haproxy is missing; installing the Debian package ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "haproxy"]):
        if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
            return None
    return shutil.which("haproxy")


@contextmanager
def echo_app() -> Iterator[tuple[int, int]]:
    (port,) = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference_impl.echo", "bench/server", "v1", str(port)],
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        yield port, proc.pid
    finally:
        stop_all([proc])


@contextmanager
def haproxy(binary: str, app_port: int, tmp: Path) -> Iterator[tuple[int, int]]:
    (port,) = free_ports(1)
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(port=port, app_port=app_port))
    proc = subprocess.Popen(
        [binary, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port)
        yield port, proc.pid
    finally:
        stop_all([proc])


def _wait_port(port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def sidecars(mode: str, app_port: int, tmp: Path) -> Iterator[tuple[int, list[int]]]:
    """A control plane and the client's and server's sidecars; (client outbound, pids)."""
    spec_path = tmp / f"mesh-{mode}.yaml"
    spec_path.write_text(spec_text(mode))
    loaded = load_paths([str(spec_path)])
    assert loaded.ok and loaded.spec is not None, loaded.diagnostics
    mesh = Mesh(
        [str(spec_path)], loaded.spec, apps={"bench/server": app_port}, log_dir=tmp / f"logs-{mode}"
    )
    try:
        state = mesh.start()
        client = next(i for i in state.instances if i.service == "bench/client")
        yield client.outbound_port, [p.pid for p in mesh.sidecars]
    finally:
        mesh.stop()


def render(results: list[Measured], missing: list[str]) -> str:
    direct = results[0].load
    lines = [
        f"{'target':<32}{'req/s':>10}{'p50 µs':>10}{'p99 µs':>10}{'+p50 µs':>10}"
        f"{'+p99 µs':>10}{'CPU µs/req':>12}{'in kernel':>10}{'req/s vs direct':>17}"
        f"{'errors':>8}"
    ]
    for m in results:
        cpu = "-" if m.cpu_us_per_request is None else f"{m.cpu_us_per_request:.1f}"
        kernel = "-" if m.kernel_share is None else f"{m.kernel_share:.0%}"
        lines.append(
            f"{m.name:<32}{m.load.rps:>10.0f}{m.load.p50_us:>10.0f}{m.load.p99_us:>10.0f}"
            f"{m.load.p50_us - direct.p50_us:>10.0f}{m.load.p99_us - direct.p99_us:>10.0f}"
            f"{cpu:>12}{kernel:>10}{m.load.rps / direct.rps:>16.2f}x{m.load.errors:>8}"
        )
    lines.append(
        f"load generator: {direct.tool}; {results[0].rounds} turns per target, "
        f"{direct.seconds:.0f} s in all; requests, seconds and CPU summed over the turns, "
        "p50/p99 the median turn's"
    )
    lines.extend(_fixed_rate(results))
    lines.extend(_ratios(results))
    lines.extend(f"NOT MEASURED: {why}" for why in missing)
    return "\n".join(lines)


def _fixed_rate(results: list[Measured]) -> list[str]:
    direct = results[0].fixed
    if direct is None:
        return []
    lines = [
        "",
        f"at a fixed {direct.rate:.0f} req/s (fortio, {direct.requests} requests per target; "
        "achieved: the lowest rate fortio reached in a turn, below the asked rate the machine "
        "was too busy and the percentiles are its stalls):",
        f"{'target':<32}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}{'+p50 µs':>10}"
        f"{'+p90 µs':>10}{'+p99 µs':>10}{'errors':>8}{'achieved':>10}",
    ]
    for m in results:
        if m.fixed is None:
            continue
        f = m.fixed
        lines.append(
            f"{m.name:<32}{f.p50_us:>10.0f}{f.p90_us:>10.0f}{f.p99_us:>10.0f}"
            f"{f.p50_us - direct.p50_us:>10.0f}{f.p90_us - direct.p90_us:>10.0f}"
            f"{f.p99_us - direct.p99_us:>10.0f}{f.errors:>8}{f.actual_rate:>10.0f}"
        )
    return lines


def _ratios(results: list[Measured]) -> list[str]:
    """Sidecar pair / Envoy pair, per mode and request kind: the goal is CPU ratio <= 1."""
    by_name = {m.name: m for m in results}
    lines: list[str] = []
    for mode in ("plain", "mTLS"):
        for variant, told in (("", "identical requests"), (UNIQUE, "unique x-request-id")):
            ours = by_name.get(f"sidecars ({mode}{variant})")
            anchor = by_name.get(f"envoy pair ({mode}{variant})")
            if ours is None or anchor is None:
                continue
            if not lines:
                lines.append("")
            cpu = (
                f"{ours.cpu_us_per_request / anchor.cpu_us_per_request:.2f}x"
                if ours.cpu_us_per_request and anchor.cpu_us_per_request
                else "-"
            )
            lines.append(
                f"sidecars/envoy pair ({mode}, {told}): CPU per request {cpu}, "
                f"throughput {ours.load.rps / anchor.load.rps:.2f}x"
            )
    return lines


def load_average() -> str:
    """The 1-minute load average, as /proc reports it: how busy the shared machine was."""
    with open("/proc/loadavg") as fh:
        return fh.read().split()[0]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per turn")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="req/s of the fixed-rate run (0: skip it)"
    )
    parser.add_argument("--rate-seconds", type=float, default=10.0, help="per turn")
    parser.add_argument("--rate-connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="turns each target takes")
    parser.add_argument(
        "--no-install", action="store_true", help="do not apt-get haproxy or go install fortio"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    missing: list[str] = []
    fortio = fortio_binary(not args.no_install) if args.rate > 0 else None
    if args.rate > 0 and fortio is None:
        missing.append("the fixed rate: fortio is not installed and `go install` did not make it")
    settings = Settings(
        args.connections, args.duration, args.rate, args.rate_seconds, args.rate_connections, fortio
    )
    rounds: dict[str, list[Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="meshspec-bench-") as tmp_name, ExitStack() as up:
        tmp = Path(tmp_name)
        app_port, _app_pid = up.enter_context(echo_app())
        targets: list[Target] = [Target("direct", app_port, [])]
        binary = ensure_haproxy(not args.no_install)
        if binary is None:
            missing.append("haproxy is not installed (Debian package `haproxy`)")
        else:
            port, pid = up.enter_context(haproxy(binary, app_port, tmp))
            targets.append(Target("haproxy", port, [pid]))
        envoy = envoy_binary()
        if envoy is None:
            missing.append("envoy is not installed (`tools/realservers/install envoy`)")
        else:
            for mtls, name in ((False, "envoy pair (plain"), (True, "envoy pair (mTLS")):
                pair = up.enter_context(envoy_pair(envoy, app_port, tmp, mtls))
                targets.append(Target(f"{name})", pair.port, pair.pids))
                targets.append(Target(f"{name}{UNIQUE})", pair.port, pair.pids, True))
        for mode, name in (("DISABLE", "sidecars (plain"), ("STRICT", "sidecars (mTLS")):
            port, pids = up.enter_context(sidecars(mode, app_port, tmp))
            targets.append(Target(f"{name})", port, pids))
            targets.append(Target(f"{name}{UNIQUE})", port, pids, True))
        # Every target is up for the whole run and they take turns, round after
        # round: a burst of load from elsewhere on a shared machine then hits
        # them all alike instead of whichever one happened to be measured.
        load_before = load_average()
        for _ in range(args.rounds):
            for target in targets:
                rounds.setdefault(target.name, []).append(measure(target, "server", settings))
        load_after = load_average()
    results = [pool(ms) for ms in rounds.values()]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "target": m.name,
                        "rps": round(m.load.rps),
                        "p50_us": round(m.load.p50_us),
                        "p99_us": round(m.load.p99_us),
                        "cpu_us_per_request": m.cpu_us_per_request,
                        "kernel_share": m.kernel_share,
                        "errors": m.load.errors,
                        "tool": m.load.tool,
                        **(
                            {}
                            if m.fixed is None
                            else {
                                "fixed_rate": m.fixed.rate,
                                "fixed_rate_achieved": round(m.fixed.actual_rate, 1),
                                "fixed_p50_us": round(m.fixed.p50_us),
                                "fixed_p90_us": round(m.fixed.p90_us),
                                "fixed_p99_us": round(m.fixed.p99_us),
                                "fixed_errors": m.fixed.errors,
                            }
                        ),
                    }
                    for m in results
                ]
                + [{"missing": why} for why in missing]
                + [{"load_average": [float(load_before), float(load_after)]}]
            )
        )
    else:
        print(render(results, missing))
        print(f"load average (1 min) at the start and the end: {load_before} -> {load_after}")

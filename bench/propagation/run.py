"""Propagation of a spec change from the control plane to N sidecar streams.

The clients are the real stream client (`ControlPlaneClient`) driving stand-in
sidecars that do what a sidecar does with a snapshot: decode it and validate
its spec. They share a few worker processes (one process per sidecar would
measure process scheduling on a small machine, not propagation). Time runs
from the control plane noticing the edited file (`refresh()`, which re-reads
and validates it) until the last stream has acknowledged. The baseline is an
empty push over the same streams: decoding, fan-out and the reply, with no
spec to apply.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reference_impl.control_plane import (
    Bootstrap,
    CertificateService,
    ControlPlane,
    ControlPlaneClient,
    Entitlements,
    SpecStore,
    Workload,
    provision,
)
from reference_impl.control_plane.bootstrap import ENTITLEMENTS_FILE
from reference_impl.control_plane.server import Stream
from reference_impl.pki import CertificateAuthority
from reference_impl.runner import free_ports
from reference_impl.snapshot import Endpoint, Snapshot

SERVICES = 4


def spec_text(services: int, weight: int) -> str:
    """A mesh of `services` services, each with two versions and a weighted route."""
    docs = [
        "apiVersion: meshspec.io/v1alpha1\nkind: Mesh\nmetadata: {name: bench}\n"
        "spec: {trustDomain: bench.local}\n"
    ]
    for i in range(services):
        w = weight if i == 0 else 90
        docs.append(
            "apiVersion: meshspec.io/v1alpha1\nkind: Service\n"
            f"metadata: {{name: svc{i}, namespace: bench}}\n"
            "spec:\n  ports: [{port: 80, name: http}]\n"
            "  versions: [{name: v1}, {name: v2}]\n"
            "  routes:\n  - name: split\n"
            "    matches: [{path: {prefix: /api}}]\n"
            f"    backends: [{{version: v1, weight: {w}}}, {{version: v2, weight: {100 - w}}}]\n"
            "    retries: {attempts: 2, retryOn: [5xx]}\n"
        )
    return "---\n".join(docs)


class Applier:
    """A stand-in sidecar: validates every snapshot's spec, as the real one must."""

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        _ = snapshot.spec

    def set_credentials(self, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> None:
        pass


def workload(n: int) -> Workload:
    return Workload(f"bench/svc{n % SERVICES}", "v1", f"i{n}")


async def worker(bootstraps: Path, first: int, count: int) -> None:
    """`count` stream clients in this process; prints a line when all are connected."""
    clients = []
    for n in range(first, first + count):
        w = workload(n)
        node = Endpoint(w.service, w.version, w.instance, "127.0.0.1", 20000 + n)
        bootstrap = Bootstrap.read(bootstraps / f"{w.instance}.json")
        client = ControlPlaneClient(Applier(), node, bootstrap, credentials=False)
        await client.start()
        clients.append(client)
    await asyncio.gather(*(c.connected.wait() for c in clients))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for c in clients:
        await c.stop()


@dataclass
class Round:
    latencies: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p100(self) -> float:
        return max(self.latencies)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


class Replies:
    """Arrival time of each stream's reply to one version."""

    def __init__(self, cp: ControlPlane) -> None:
        self.version = -1
        self.start = 0.0
        self.times: dict[int, float] = {}
        self.all_in = asyncio.Event()
        self.expected = 0
        cp.on_reply = self._record

    def expect(self, version: int, expected: int, start: float) -> None:
        self.version, self.expected, self.start = version, expected, start
        self.times = {}
        self.all_in.clear()

    def _record(self, stream: Stream, version: int, accepted: bool) -> None:
        if version == self.version:
            self.times[id(stream)] = time.perf_counter() - self.start
            if len(self.times) >= self.expected:
                self.all_in.set()


async def measure(sidecars: int, processes: int, rounds: int, timeout: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="meshspec-bench-") as tmp:
        path = Path(tmp) / "mesh.yaml"
        path.write_text(spec_text(SERVICES, 90))
        (port,) = free_ports(1)
        pki = Path(tmp) / "pki"
        provision(
            pki,
            Path(tmp) / "bootstrap",
            [workload(n) for n in range(sidecars)],
            "bench.local",
            ("127.0.0.1", port),
        )
        certificates = CertificateService(CertificateAuthority.load(pki))
        entitlements = Entitlements.read(pki / ENTITLEMENTS_FILE)
        # hold snapshots back until every stream is in: startup is not what is measured
        cp = ControlPlane(
            SpecStore([str(path)]),
            certificates,
            entitlements,
            port=port,
            poll_interval=3600.0,
            settle=3600.0,
        )
        await cp.start()
        replies = Replies(cp)
        workers = []
        try:
            share = -(-sidecars // processes)
            for w in range(processes):
                first, count = w * share, min(share, sidecars - w * share)
                if count <= 0:
                    break
                workers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "bench.propagation",
                            "--worker",
                            str(Path(tmp) / "bootstrap"),
                            str(first),
                            str(count),
                        ],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                    )
                )
            loop = asyncio.get_running_loop()
            for proc in workers:
                assert proc.stdout is not None
                line = await asyncio.wait_for(
                    loop.run_in_executor(None, proc.stdout.readline), timeout
                )
                if line.strip() != b"ready":
                    raise RuntimeError(f"worker {proc.pid} failed to start")
            assert cp.snapshot is not None
            await asyncio.wait_for(_until(lambda: len(cp.streams) >= sidecars), timeout)
            cp.release()
            await cp.wait_acked(cp.snapshot.version, sidecars, timeout)
            baseline, change = [], []
            for r in range(rounds):
                version = cp.snapshot.version + 1
                replies.expect(version, sidecars, time.perf_counter())
                cp.publish(Snapshot(version, ()))
                await asyncio.wait_for(replies.all_in.wait(), timeout)
                baseline.append(Round(list(replies.times.values())))

                path.write_text(spec_text(SERVICES, 50 + r))
                replies.expect(cp.snapshot.version + 1, sidecars, time.perf_counter())
                if not cp.refresh():
                    raise RuntimeError("the edited spec was not picked up")
                await asyncio.wait_for(replies.all_in.wait(), timeout)
                change.append(Round(list(replies.times.values())))
        finally:
            for proc in workers:
                assert proc.stdin is not None
                proc.stdin.close()
            for proc in workers:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
            await cp.stop()
    base_p50 = statistics.median(r.p50 for r in baseline)
    base_p100 = statistics.median(r.p100 for r in baseline)
    p50 = statistics.median(r.p50 for r in change)
    p100 = statistics.median(r.p100 for r in change)
    return {
        "sidecars": sidecars,
        "processes": len(workers),
        "rounds": rounds,
        "services": SERVICES,
        "change_ms": {"p50": round(p50 * 1e3, 2), "p100": round(p100 * 1e3, 2)},
        "empty_push_ms": {"p50": round(base_p50 * 1e3, 2), "p100": round(base_p100 * 1e3, 2)},
        "ratio": {"p50": round(p50 / base_p50, 2), "p100": round(p100 / base_p100, 2)},
    }


def render(result: dict[str, object]) -> str:
    change = result["change_ms"]
    base = result["empty_push_ms"]
    ratio = result["ratio"]
    assert isinstance(change, dict) and isinstance(base, dict) and isinstance(ratio, dict)
    return (
        f"spec change to {result['sidecars']} sidecars ({result['processes']} processes, "
        f"{result['services']} services, median of {result['rounds']} rounds)\n"
        f"  change:     p50 {change['p50']:8.2f} ms   p100 {change['p100']:8.2f} ms\n"
        f"  empty push: p50 {base['p50']:8.2f} ms   p100 {base['p100']:8.2f} ms\n"
        f"  ratio:      p50 {ratio['p50']:8.2f} x    p100 {ratio['p100']:8.2f} x"
    )


def main(argv: list[str]) -> None:
    import argparse
    import logging

    # the empty pushes are rejected on purpose; 200 warnings per round are noise here
    logging.getLogger("meshspec").setLevel(logging.ERROR)

    if argv[:1] == ["--worker"]:
        first, count = (int(a) for a in argv[2:4])
        asyncio.run(worker(Path(argv[1]), first, count))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.propagation")
    parser.add_argument("--sidecars", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.sidecars, args.processes, args.rounds, args.timeout))
    print(json.dumps(result) if args.json else render(result))

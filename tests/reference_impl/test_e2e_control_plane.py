"""Real sidecars under load while the control plane restarts and certificates rotate.

Everything runs in one event loop on loopback: the control plane, three
sidecars with echo applications, and a load generator that counts every
answer that is not a 200 (or no answer at all) as a failure.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reference_impl.control_plane import ControlPlane, ControlPlaneClient, SpecStore
from reference_impl.echo import EchoIdentity, start_echo
from reference_impl.proxy import Sidecar, SidecarConfig
from reference_impl.snapshot import Endpoint
from tests.reference_impl.trust import Trust

pytestmark = pytest.mark.loopback

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, name: http}]
  versions: [{name: v1}]
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  ports: [{port: 80, name: http}]
  versions: [{name: v1}, {name: v2}]
  routes:
  - name: split
    backends: [{version: v1, weight: %d}, {version: v2, weight: %d}]
"""

PARTS = [("shop/web", "v1"), ("shop/cart", "v1"), ("shop/cart", "v2")]


def write_spec(path: Path, v1: int, v2: int) -> None:
    path.write_text(SPEC % (v1, v2))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


@dataclass
class Load:
    """Keep-alive clients sending GET http://cart/ through web's outbound listener."""

    port: int
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    versions: collections.Counter[str] = field(default_factory=collections.Counter)
    running: bool = True

    async def client(self, reopen_every: int) -> None:
        reader = writer = None
        sent = 0
        while self.running:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert reader is not None
            sent += 1
            close = sent % reopen_every == 0
            head = "GET / HTTP/1.1\r\nHost: cart\r\n"
            writer.write((head + ("connection: close\r\n" if close else "") + "\r\n").encode())
            try:
                status, body = await asyncio.wait_for(read_response(reader), 10)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                self.failures.append(f"no answer: {exc!r}")
                status, body, close = 0, b"", True
            if status == 200:
                self.ok += 1
                self.versions[json.loads(body)["version"]] += 1
            elif status:
                self.failures.append(f"{status}: {body[:200]!r}")
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


class Mesh:
    def __init__(self, spec: Path, ttl: float = 3600.0) -> None:
        self.spec = spec
        self.ttl = ttl
        self.cp: ControlPlane | None = None
        self.port = 0
        self.sidecars: list[Sidecar] = []
        self.clients: list[ControlPlaneClient] = []
        self.apps: list[Any] = []
        # one root for the whole run: a restarted control plane must still be trusted
        self.trust = Trust("cluster.local")
        for n, (service, version) in enumerate(PARTS):
            self.trust.entitle(service, version, f"{service.split('/')[1]}-{version}-{n}")

    async def start_control_plane(self, settle: float = 0.0) -> ControlPlane:
        store = SpecStore([str(self.spec)])
        self.cp = ControlPlane(
            store,
            self.trust.certificates(self.ttl),
            self.trust.entitlements(),
            port=self.port,
            settle=settle,
            poll_interval=0.05,
        )
        await self.cp.start()
        self.port = self.cp.port
        return self.cp

    async def start(self) -> None:
        await self.start_control_plane()
        for n, (service, version) in enumerate(PARTS):
            instance = f"{service.split('/')[1]}-{version}-{n}"
            app = await start_echo(EchoIdentity(service, version, instance), "127.0.0.1", 0)
            self.apps.append(app)
            config = SidecarConfig(
                service=service,
                version=version,
                instance=instance,
                inbound_port=0,
                outbound_port=0,
                app_host="127.0.0.1",
                app_port=app.sockets[0].getsockname()[1],
                admin_port=0,
                seed=n,
            )
            sidecar = Sidecar(config)
            await sidecar.start()
            node = Endpoint(service, version, instance, "127.0.0.1", sidecar.inbound_port)
            bootstrap = self.trust.bootstrap(instance, self.port)
            client = ControlPlaneClient(sidecar, node, bootstrap, backoff_max=0.3)
            await client.start()
            self.sidecars.append(sidecar)
            self.clients.append(client)
        assert self.cp is not None
        await until(lambda: all(s.ready for s in self.sidecars))
        await until(lambda: len(self.cp.registry.endpoints()) == 3)  # type: ignore[union-attr]
        await self.cp.wait_acked(self.cp.snapshot.version, 3, 5)  # type: ignore[union-attr]

    async def stop(self) -> None:
        for client in self.clients:
            await client.stop()
        for sidecar in self.sidecars:
            await sidecar.stop()
        for app in self.apps:
            app.close()
        if self.cp is not None:
            await self.cp.stop()


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def run(test: Callable[[], Awaitable[None]], timeout: float = 60.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(test(), timeout)

    asyncio.run(bounded())


async def under_load(mesh: Mesh, body: Callable[[], Awaitable[None]]) -> Load:
    load = Load(mesh.sidecars[0].outbound_port)
    clients = [asyncio.ensure_future(load.client(reopen_every=5 + i)) for i in range(4)]
    try:
        await body()
    finally:
        load.running = False
        await asyncio.gather(*clients)
    return load


def test_control_plane_restart_under_load_fails_no_request(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec, 100, 0)

    async def scenario() -> None:
        mesh = Mesh(spec)
        await mesh.start()
        phase: dict[str, int] = {}

        async def restart() -> None:
            await asyncio.sleep(0.5)
            assert mesh.cp is not None
            old = mesh.cp.snapshot.version  # type: ignore[union-attr]
            await mesh.cp.stop()
            phase["down"] = load_ref[0].ok
            # while it is away: the sidecars serve on their last snapshot, and the spec changes
            write_spec(spec, 0, 100)
            await asyncio.sleep(1.0)
            phase["while_down"] = load_ref[0].ok - phase["down"]
            cp = await mesh.start_control_plane(settle=1.0)
            await until(lambda: all(c.version and c.version > old for c in mesh.clients))
            assert [e.instance for e in cp.registry.endpoints()] == [
                "cart-v1-1",
                "cart-v2-2",
                "web-v1-0",
            ]
            phase["after"] = load_ref[0].ok
            await asyncio.sleep(0.5)

        load_ref: list[Load] = []
        load = Load(mesh.sidecars[0].outbound_port)
        load_ref.append(load)
        clients = [asyncio.ensure_future(load.client(reopen_every=5 + i)) for i in range(4)]
        try:
            await restart()
        finally:
            load.running = False
            await asyncio.gather(*clients)
            await mesh.stop()
        assert load.failures == []
        assert phase["while_down"] > 50
        assert load.ok - phase["after"] > 20
        assert all(c.connects >= 2 for c in mesh.clients)
        # the edit made while the control plane was down took effect after it came back
        assert load.versions["v2"] > 0

    run(scenario)


def test_certificate_rotation_under_load_fails_no_request(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    write_spec(spec, 50, 50)

    async def scenario() -> None:
        mesh = Mesh(spec, ttl=2.0)
        await mesh.start()
        try:
            load = await under_load(mesh, lambda: asyncio.sleep(4.0))
        finally:
            await mesh.stop()
        assert load.failures == []
        assert load.ok > 100
        # every sidecar got a fresh certificate at each half-life (at most every 1 s): the
        # first ones expired while the load ran
        assert all(c.credentials_received >= 5 for c in mesh.clients)
        assert set(load.versions) == {"v1", "v2"}

    run(scenario)


RENEWED_WITHIN = 15.0  # seconds; renewal by expiry would come after half an hour
AFTER_SWITCH = 50  # requests that must all succeed once the new identity is in


def test_a_service_account_edit_renews_the_identity_at_once_under_load(tmp_path: Path) -> None:
    """A valid edit of cart's serviceAccount: its sidecars hold the new identity at once,
    not when the old certificate (one hour) is due (they used to keep renewing the old
    one), and traffic keeps flowing: every request after the switch succeeds."""
    spec = tmp_path / "mesh.yaml"
    write_spec(spec, 50, 50)
    new_identity = "/ns/shop/sa/cart-payments"
    timings: dict[str, float] = {}

    async def scenario() -> None:
        mesh = Mesh(spec)
        await mesh.start()
        carts = [c for c in mesh.clients if c.node.service == "shop/cart"]
        assert all(c.identity and c.identity.endswith("/ns/shop/sa/cart") for c in carts)
        loop = asyncio.get_running_loop()
        counts: dict[str, int] = {}

        async def edit() -> None:
            await asyncio.sleep(0.5)
            text = spec.read_text().replace(
                "metadata: {name: cart, namespace: shop}\nspec:\n",
                "metadata: {name: cart, namespace: shop}\nspec:\n  serviceAccount: cart-payments\n",
            )
            assert "cart-payments" in text
            spec.write_text(text)
            st = spec.stat()
            os.utime(spec, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
            start = loop.time()
            # a bound far below any renewal by expiry (the certificates live an hour), wide
            # enough for a loaded machine
            await until(
                lambda: all(c.identity and c.identity.endswith(new_identity) for c in carts),
                RENEWED_WITHIN,
            )
            timings["renewed"] = loop.time() - start
            assert mesh.cp is not None and mesh.cp.snapshot is not None
            await mesh.cp.wait_acked(mesh.cp.snapshot.version, 3, 5)
            counts["ok"], counts["failed"] = load_ref[0].ok, len(load_ref[0].failures)
            # requests after the switch, on connections opened every few requests: counted
            # until enough went through, not for a time that depends on the machine's load
            await until(lambda: load_ref[0].ok - counts["ok"] >= AFTER_SWITCH, 60.0)

        load_ref: list[Load] = []
        load = Load(mesh.sidecars[0].outbound_port)
        load_ref.append(load)
        clients = [asyncio.ensure_future(load.client(reopen_every=3 + i)) for i in range(4)]
        try:
            await edit()
        finally:
            load.running = False
            await asyncio.gather(*clients)
            await mesh.stop()
        assert timings["renewed"] < RENEWED_WITHIN
        # once the new identity and snapshot are in, new connections (every few requests)
        # verify cart against its new identity and succeed
        assert load.failures[counts["failed"] :] == []
        assert load.ok - counts["ok"] >= AFTER_SWITCH
        timings["failed_during_switch"] = counts["failed"]
        assert set(load.versions) == {"v1", "v2"}

    run(scenario)
    print(timings)

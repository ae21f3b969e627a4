"""One workload's sidecar: inbound, outbound and admin listeners around the two cores.

The sidecar holds its last good snapshot and credentials; a control plane
that goes away leaves it serving on them. Call `apply_snapshot` and
`set_credentials` from the event loop the sidecar runs on (or before start).
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from reference_impl.core import InboundCore, OutboundCore, Tick
from reference_impl.metrics import SidecarMetrics, log_decision
from reference_impl.proxy.admin import AdminHandler
from reference_impl.proxy.inbound import InboundProxy
from reference_impl.proxy.outbound import OutboundProxy
from reference_impl.proxy.tls import TlsMaterial
from reference_impl.snapshot import Snapshot

TICK_INTERVAL = 0.05
StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class SidecarConfig:
    """Ports may be 0 to let the system choose; the bound ones are on the Sidecar."""

    service: str
    version: str | None
    instance: str
    inbound_port: int
    outbound_port: int
    app_host: str
    app_port: int
    admin_port: int
    host: str = "127.0.0.1"
    seed: int | None = None


class Sidecar:
    def __init__(self, config: SidecarConfig) -> None:
        self.config = config
        self.metrics = SidecarMetrics(config.service, config.instance)
        self._outbound_core = OutboundCore(config.service)
        self._inbound_core = InboundCore(config.service)
        self._tls: TlsMaterial | None = None
        self._snapshot: Snapshot | None = None
        self._outbound = OutboundProxy(
            self._outbound_core, lambda: self._tls, self.metrics, random.Random(config.seed)
        )
        self._inbound = InboundProxy(
            self._inbound_core, lambda: self._tls, (config.app_host, config.app_port), self.metrics
        )
        self._servers: list[asyncio.Server] = []
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._bound: dict[str, int] = {}
        self._running = False

    # -- state pushed in ---------------------------------------------------------------

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Run on `snapshot` from now on; SnapshotError keeps the last good one."""
        actions = self._outbound_core.apply_snapshot(snapshot)
        self._inbound_core.apply_snapshot(snapshot)
        self._snapshot = snapshot
        self.metrics.snapshot_version.set(snapshot.version)
        log_decision("snapshot", version=snapshot.version, service=self.config.service)
        if self._running:
            self._outbound.perform(actions)

    def set_credentials(self, cert_pem: bytes, key_pem: bytes, ca_bundle_pem: bytes) -> None:
        """New connections use these; open ones keep the credentials they started with."""
        self._tls = TlsMaterial.load(cert_pem, key_pem, ca_bundle_pem)
        log_decision("credentials", identity=self._tls.identity)

    @property
    def ready(self) -> bool:
        return self._snapshot is not None and self._tls is not None

    @property
    def snapshot_version(self) -> int | None:
        return None if self._snapshot is None else self._snapshot.version

    @property
    def inbound_port(self) -> int:
        return self._bound.get("inbound", self.config.inbound_port)

    @property
    def outbound_port(self) -> int:
        return self._bound.get("outbound", self.config.outbound_port)

    @property
    def admin_port(self) -> int:
        return self._bound.get("admin", self.config.admin_port)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        host = self.config.host
        outbound = await asyncio.start_server(
            self._tracked(self._outbound.serve), host, self.config.outbound_port
        )
        admin = await asyncio.start_server(
            self._tracked(AdminHandler(self.metrics, lambda: self.ready)),
            host,
            self.config.admin_port,
        )
        self._servers = [outbound, admin]
        self._bound["outbound"] = outbound.sockets[0].getsockname()[1]
        self._bound["admin"] = admin.sockets[0].getsockname()[1]
        listener = socket.create_server((host, self.config.inbound_port), backlog=512)
        listener.setblocking(False)
        self._listener = listener
        self._bound["inbound"] = listener.getsockname()[1]
        self._running = True
        self._spawn(self._accept_loop(listener))
        self._spawn(self._tick_loop())

    async def stop(self) -> None:
        self._running = False
        for server in self._servers:
            server.close()
        if self._listener is not None:
            self._listener.close()
        for task in list(self._tasks):
            task.cancel()
        await self._outbound.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers = []
        # Let the transports closed above finish closing before the loop may end.
        for _ in range(3):
            await asyncio.sleep(0)

    def _tracked(self, handler: StreamHandler) -> StreamHandler:
        """Wrap a connection handler so `stop()` can cancel the connections it serves."""

        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            try:
                await handler(reader, writer)
            except asyncio.CancelledError:
                # Only stop() cancels these; ending quietly keeps asyncio from logging it.
                writer.close()

        return run

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError:
                if not self._running:
                    return
                await asyncio.sleep(0.01)
                continue
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn(self._inbound.serve(conn))

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            self._outbound.feed(Tick(loop.time()))

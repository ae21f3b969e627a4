"""One workload's sidecar: inbound, outbound and admin listeners around the two cores.

There is one inbound listener per service port, so a port's mTLS mode comes
from where the client connected. Every listener holds at most a fixed number
of connections (derived from the file limit unless configured); beyond it a
new connection is closed at once and the overflow is logged, and the admin
listener has a budget of its own, so `/ready` and `/metrics` stay reachable.

The sidecar holds its last good snapshot and credentials; a control plane
that goes away leaves it serving on them. Call `apply_snapshot` and
`set_credentials` from the event loop the sidecar runs on (or before start).
"""

from __future__ import annotations

import asyncio
import logging
import random
import resource
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from reference_impl.core import InboundCore, OutboundCore, Tick
from reference_impl.metrics import SidecarMetrics, log_decision
from reference_impl.proxy.admin import AdminHandler
from reference_impl.proxy.deadlines import Deadlines
from reference_impl.proxy.gate import Gate
from reference_impl.proxy.http1 import DEFAULT_TIMEOUTS, ReadTimeouts
from reference_impl.proxy.inbound import InboundProxy
from reference_impl.proxy.outbound import OutboundProxy
from reference_impl.proxy.tls import TlsMaterial
from reference_impl.snapshot import Endpoint, Snapshot

TICK_INTERVAL = 0.05
#: connections one data listener holds at most, whatever the file limit allows
MAX_CONNECTIONS = 4096
#: the admin listener's own budget, outside the data listeners' share
ADMIN_CONNECTIONS = 32
#: descriptors kept for everything that is not a proxied connection
_RESERVED_FDS = 64
log = logging.getLogger("meshspec.sidecar")
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
    #: (service port, listen port) for the service's other ports; `inbound_port`
    #: serves the default one (the service's first HTTP port)
    inbound_ports: tuple[tuple[int, int], ...] = ()
    #: connections per data listener; None: derived from the process's file limit
    max_connections: int | None = None
    #: how long a client may be idle or take to send a request (see ReadTimeouts)
    timeouts: ReadTimeouts = DEFAULT_TIMEOUTS


def connection_budget() -> int:
    """Connections per data listener: each may hold two descriptors (client and
    upstream), and the inbound and outbound listeners share the file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, (soft - _RESERVED_FDS - ADMIN_CONNECTIONS) // 4))


class Sidecar:
    def __init__(self, config: SidecarConfig) -> None:
        self.config = config
        self.metrics = SidecarMetrics(config.service, config.instance)
        self._outbound_core = OutboundCore(config.service)
        self._inbound_core = InboundCore(config.service)
        self._tls: TlsMaterial | None = None
        self._snapshot: Snapshot | None = None
        self._deadlines = Deadlines(config.timeouts)
        self._outbound = OutboundProxy(
            self._outbound_core,
            lambda: self._tls,
            self.metrics,
            random.Random(config.seed),
            self._deadlines,
        )
        self._inbound = InboundProxy(
            self._inbound_core,
            lambda: self._tls,
            (config.app_host, config.app_port),
            self.metrics,
            self._deadlines,
        )
        self._servers: list[asyncio.Server] = []
        self._listeners: list[socket.socket] = []
        limit = connection_budget() if config.max_connections is None else config.max_connections
        self._gates = {
            "inbound": Gate("inbound", limit, self.metrics),
            "outbound": Gate("outbound", limit, self.metrics),
            "admin": Gate("admin", ADMIN_CONNECTIONS, self.metrics),
        }
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
    def inbound_ports(self) -> tuple[tuple[int, int], ...]:
        """(service port, bound listen port) of the listeners beside the default one."""
        return tuple(
            (int(name.split(":")[1]), port)
            for name, port in self._bound.items()
            if name.startswith("inbound:")
        )

    def endpoint(self, host: str = "127.0.0.1") -> Endpoint:
        """What the registry should know about this instance: where each port listens."""
        c = self.config
        return Endpoint(
            c.service, c.version, c.instance, host, self.inbound_port, self.inbound_ports
        )

    @property
    def outbound_port(self) -> int:
        return self._bound.get("outbound", self.config.outbound_port)

    @property
    def admin_port(self) -> int:
        return self._bound.get("admin", self.config.admin_port)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        host = self.config.host
        loop = asyncio.get_running_loop()
        outbound_gate = self._gates["outbound"]
        outbound = await loop.create_server(
            lambda: self._outbound.connection(outbound_gate),
            host,
            self.config.outbound_port,
            backlog=512,
        )
        admin = await asyncio.start_server(
            self._tracked(
                AdminHandler(self.metrics, lambda: self.ready, self._deadlines),
                self._gates["admin"],
            ),
            host,
            self.config.admin_port,
        )
        self._servers = [outbound, admin]
        self._bound["outbound"] = outbound.sockets[0].getsockname()[1]
        self._bound["admin"] = admin.sockets[0].getsockname()[1]
        inbound: list[tuple[str, int | None, int]] = [("inbound", None, self.config.inbound_port)]
        inbound += [(f"inbound:{svc}", svc, port) for svc, port in self.config.inbound_ports]
        for name, service_port, port in inbound:
            listener = socket.create_server((host, port), backlog=512)
            listener.setblocking(False)
            self._listeners.append(listener)
            self._bound[name] = listener.getsockname()[1]
            self._spawn(self._accept_loop(listener, service_port))
        self._running = True
        self._spawn(self._tick_loop())
        self._spawn(self._deadlines.run())

    async def stop(self) -> None:
        self._running = False
        for server in self._servers:
            server.close()
        for listener in self._listeners:
            listener.close()
        self._listeners = []
        for task in list(self._tasks):
            task.cancel()
        await self._outbound.close()
        self._inbound.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers = []
        # Let the transports closed above finish closing before the loop may end.
        for _ in range(3):
            await asyncio.sleep(0)

    def _tracked(self, handler: StreamHandler, gate: Gate) -> StreamHandler:
        """Wrap a connection handler so `stop()` can cancel the connections it serves,
        and so the listener never holds more than its gate allows."""

        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not gate.enter():
                writer.transport.abort()
                return
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            try:
                await handler(reader, writer)
            except asyncio.CancelledError:
                # Only stop() cancels these; ending quietly keeps asyncio from logging it.
                writer.close()
            finally:
                gate.leave()

        return run

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept_loop(self, listener: socket.socket, service_port: int | None) -> None:
        loop = asyncio.get_running_loop()
        gate = self._gates["inbound"]
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError as exc:
                if not self._running:
                    return
                log.warning("inbound listener cannot accept: %s", exc)
                await asyncio.sleep(0.05)
                continue
            if not gate.enter():
                conn.close()
                continue
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn(self._inbound.serve(conn, service_port, gate))

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            self._outbound.feed(Tick(loop.time()))

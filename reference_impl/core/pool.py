"""Upstream connections and the per-cluster limits on them.

A cluster is one backend of a route: a service and optionally one version,
the unit Envoy (and Istio's DestinationRule subsets) applies limits to.
`maxConnections` caps open connections; a request that finds none free waits
in the cluster's queue, unless `maxPendingRequests` are already waiting, in
which case it overflows (503). `maxRequestsPerConnection` closes a connection
after that many requests.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from meshspec.spec import ConnectionLimits
from reference_impl.snapshot import Endpoint


class ConnState(StrEnum):
    CONNECTING = "connecting"
    IDLE = "idle"
    BUSY = "busy"


@dataclass
class Connection:
    conn_id: int
    cluster: str
    endpoint: Endpoint
    port: int  # the endpoint's listener for the destination's service port
    tls_identity: str | None
    state: ConnState = ConnState.CONNECTING
    request_id: int | None = None
    served: int = 0


@dataclass
class _Cluster:
    limits: ConnectionLimits | None = None
    waiting: deque[int] = field(default_factory=deque)


_IdleKey = tuple[str, Endpoint, int, str | None]


class Pool:
    """Connections by id, plus an index of the idle ones by what they lead to, so
    finding one costs a dict look-up, not a walk over every open connection.
    Change a connection's state with `set_idle`/`set_busy` so the index follows."""

    def __init__(self) -> None:
        self.connections: dict[int, Connection] = {}
        self._clusters: dict[str, _Cluster] = {}
        self._idle: dict[_IdleKey, dict[int, Connection]] = {}
        self._next_id = 1

    def cluster(self, name: str, limits: ConnectionLimits | None) -> _Cluster:
        c = self._clusters.get(name)
        if c is None:  # made once per cluster, not once per request
            c = self._clusters[name] = _Cluster()
        c.limits = limits
        return c

    def open_count(self, cluster: str) -> int:
        return sum(1 for c in self.connections.values() if c.cluster == cluster)

    def idle(
        self, cluster: str, endpoint: Endpoint, port: int, tls_identity: str | None
    ) -> Connection | None:
        """The oldest (lowest id) idle connection to exactly this place, if any."""
        found = self._idle.get((cluster, endpoint, port, tls_identity))
        if not found:
            return None
        return found[min(found)] if len(found) > 1 else next(iter(found.values()))

    def set_idle(self, conn: Connection) -> None:
        conn.state = ConnState.IDLE
        key = (conn.cluster, conn.endpoint, conn.port, conn.tls_identity)
        self._idle.setdefault(key, {})[conn.conn_id] = conn

    def set_busy(self, conn: Connection) -> None:
        conn.state = ConnState.BUSY
        self._unindex(conn)

    def _unindex(self, conn: Connection) -> None:
        key = (conn.cluster, conn.endpoint, conn.port, conn.tls_identity)
        found = self._idle.get(key)
        if found is not None and found.pop(conn.conn_id, None) is not None and not found:
            del self._idle[key]

    def can_open(self, cluster: str) -> bool:
        limits = self._clusters[cluster].limits
        return (
            limits is None
            or limits.max_connections is None
            or (self.open_count(cluster) < limits.max_connections)
        )

    def can_wait(self, cluster: str) -> bool:
        c = self._clusters[cluster]
        if c.limits is None or c.limits.max_pending_requests is None:
            return True
        return len(c.waiting) < c.limits.max_pending_requests

    def open(
        self, cluster: str, endpoint: Endpoint, port: int, tls_identity: str | None
    ) -> Connection:
        conn = Connection(self._next_id, cluster, endpoint, port, tls_identity)
        self._next_id += 1
        self.connections[conn.conn_id] = conn
        return conn

    def wait(self, cluster: str, request_id: int) -> None:
        self._clusters[cluster].waiting.append(request_id)

    def unwait(self, cluster: str, request_id: int) -> None:
        c = self._clusters.get(cluster)
        waiting = c.waiting if c is not None else deque[int]()
        if request_id in waiting:
            waiting.remove(request_id)

    def next_waiting(self, cluster: str) -> int | None:
        c = self._clusters.get(cluster)
        return c.waiting.popleft() if c is not None and c.waiting else None

    def worn_out(self, conn: Connection) -> bool:
        """True once the connection served `maxRequestsPerConnection` requests."""
        limits = self._clusters[conn.cluster].limits
        return (
            limits is not None
            and limits.max_requests_per_connection is not None
            and conn.served >= limits.max_requests_per_connection
        )

    def drop(self, conn_id: int) -> Connection | None:
        conn = self.connections.pop(conn_id, None)
        if conn is not None and conn.state is ConnState.IDLE:
            self._unindex(conn)
        return conn

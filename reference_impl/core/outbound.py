"""The outbound side: requests from the local application to other services.

Rule 1: every policy answer (target normalisation, route, backends and
weights, timeout, retries, transport, breaker policy) comes from
`meshspec.semantics.decide`; this module only carries it out.
Rule 2: nothing here waits, reads a clock or touches a socket. `handle(event)`
returns the actions the shell must perform; the shell reports their outcome
as further events.

A request lives as a `_Flight`: WAITING (queued for a connection slot),
CONNECTING (its connection is being opened), SENT (awaiting the response).
Each retry is a new attempt with its own per-try deadline; the overall
deadline covers all attempts. Late events about an abandoned attempt are
ignored. Deadlines are checked on every event, so a `Tick(now)` is enough
to expire them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from meshspec.durations import format_duration
from meshspec.semantics import (
    PER_TRY_TIMEOUT,
    BackendShare,
    Decision,
    Outcome,
    Request,
    Transport,
    UnknownService,
    decide,
    retriable_failure,
    retriable_status,
)
from meshspec.semantics.paths import host_port
from reference_impl.core.actions import (
    CloseConnection,
    Ejected,
    OpenConnection,
    OutboundAction,
    Overflowed,
    Respond,
    Retried,
    SendRequest,
)
from reference_impl.core.balancer import RoundRobin, weighted_choice
from reference_impl.core.config import MAX_PLAN_KEY, MAX_PLANS, Config, load_config
from reference_impl.core.events import (
    FailureKind,
    Headers,
    OutboundEvent,
    RequestReceived,
    Tick,
    UpstreamClosed,
    UpstreamConnected,
    UpstreamConnectFailed,
    UpstreamFailed,
    UpstreamResponse,
    join_headers,
)
from reference_impl.core.keys import HOST, split_lines
from reference_impl.core.outlier import OutlierDetector
from reference_impl.core.pool import Connection, ConnState, Pool
from reference_impl.snapshot import Endpoint, Snapshot

# A failure without a response is counted by outlier detection as this status.
_LOCAL_FAILURE_STATUS = 503
_TIMEOUT_STATUS = 504


class FlightState(StrEnum):
    WAITING = "waiting"
    CONNECTING = "connecting"
    SENT = "sent"


@dataclass(slots=True)
class _Flight:
    request_id: int
    config: Config
    decision: Decision
    backend: BackendShare
    cluster: str
    method: str
    target: str
    headers: Headers
    deadline: float | None
    #: the endpoints of `backend` in `config`: looked up once, used on every attempt
    members: tuple[Endpoint, ...]
    tls_identity: str | None = None
    timeout_text: str = "none"
    state: FlightState = FlightState.WAITING
    attempt: int = 0
    attempt_deadline: float | None = None
    endpoint: Endpoint | None = None
    conn_id: int | None = None
    tried: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Plan:
    """The oracle's answer for one exact request, in the form the core uses it.

    `local` set: answer the application with (status, reason, route) and send
    nothing. Otherwise the request goes to one of `shares` (weights in
    `weights`), to `target`, with `headers` and the request's header lines the
    rules do not read (unchanged by the oracle, combined as it combines them).
    Built only from `decide`'s answer, so a remembered plan is what `decide`
    says for every request with the same key (`keys.py`).
    """

    local: tuple[int, str, str | None] | None
    decision: Decision | None = None
    shares: tuple[BackendShare, ...] = ()
    weights: tuple[int, ...] = ()
    clusters: tuple[str, ...] = ()
    #: per share: the SPIFFE ID its server must present (None: plaintext)
    identities: tuple[str | None, ...] = ()
    target: str = ""
    headers: Headers = ()
    timeout: str = "none"


def _plan(config: Config, source: str, method: str, target: str, read: Headers) -> _Plan:
    """Ask the oracle what a request means (the one place the outbound side does).

    `read`: the request's header lines that the snapshot's rules read (`keys.py`); the
    others change nothing in the answer and are added to `headers` per request.
    """
    host = next((v for k, v in read if k.lower() == HOST), None)
    if not host:
        return _Plan((400, "request has no Host header", None))
    request = Request(
        destination=host,
        target=target,
        method=method,
        headers=join_headers(read),
        port=host_port(host),
        source=source,
    )
    try:
        decision = decide(config.spec, request)
    except UnknownService as exc:
        return _Plan((404, str(exc), None))
    if decision.outcome is Outcome.BAD_REQUEST:
        return _Plan((400, decision.reason, None))
    if decision.outcome in (Outcome.NO_ROUTE, Outcome.UNKNOWN_PORT):
        return _Plan((404, decision.reason, decision.route))
    if decision.outcome is Outcome.NOT_HTTP:
        return _Plan((502, decision.reason, None))
    # DENIED and PARTIALLY_DENIED are enforced by the destination's sidecar.
    shares = decision.weighted_backends
    if not shares:
        return _Plan((503, "route has no backend with weight", decision.route))
    query = target.partition("?")[2]
    return _Plan(
        None,
        decision,
        shares,
        tuple(s.weight for s in shares),
        tuple(cluster_name(s) for s in shares),
        tuple(
            config.identity(s.service) if s.transport is Transport.MTLS else None for s in shares
        ),
        (decision.path or "/") + (f"?{query}" if query else ""),
        tuple(decision.headers.items()),
        _written(decision.timeout),
    )


def _written(timeout: float | None) -> str:
    """A timeout as the spec writes it; "none" when the route disables it."""
    return "none" if timeout is None else format_duration(timeout)


def cluster_name(backend: BackendShare) -> str:
    return backend.service if backend.version is None else f"{backend.service}@{backend.version}"


class OutboundCore:
    """Routes the local application's requests for `service` (`namespace/name`)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.config: Config | None = None
        self.pool = Pool()
        self.outliers = OutlierDetector()
        self._balancer = RoundRobin()
        self._flights: dict[int, _Flight] = {}
        # The newest request per cluster: whose breaker policy and endpoints apply to it.
        self._latest: dict[str, _Flight] = {}
        # No flight has a deadline before this (None: none has one), so most events
        # skip the scan over every flight.
        self._earliest_deadline: float | None = None

    # -- configuration ---------------------------------------------------------------

    def apply_snapshot(self, snapshot: Snapshot) -> list[OutboundAction]:
        """Switch new requests to `snapshot` (SnapshotError: keep the current one).

        Idle connections to endpoints the snapshot no longer lists are closed.
        """
        self.config = load_config(snapshot, self.service)
        live = set(snapshot.endpoints)
        actions: list[OutboundAction] = []
        for conn in list(self.pool.connections.values()):
            if conn.state is ConnState.IDLE and conn.endpoint not in live:
                self.pool.drop(conn.conn_id)
                actions.append(CloseConnection(conn.conn_id, "endpoint left the registry"))
        return actions

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    # -- events ----------------------------------------------------------------------

    def handle(self, event: OutboundEvent) -> list[OutboundAction]:
        now = event.now
        actions: list[OutboundAction] = []
        # Most events find no ejection over and no deadline passed: asked here, at no call.
        if self.outliers.ejected:
            actions.extend(self.outliers.sweep(now))
        match event:
            case RequestReceived():
                actions.extend(self._on_request(event))
            case UpstreamConnected():
                actions.extend(self._on_connected(event))
            case UpstreamConnectFailed():
                actions.extend(self._on_connect_failed(event))
            case UpstreamResponse():
                actions.extend(self._on_response(event))
            case UpstreamFailed():
                actions.extend(self._on_failed(event))
            case UpstreamClosed():
                if self.pool.drop(event.conn_id) is not None:
                    actions.extend(self._slot_freed(event.now))
            case Tick():
                pass
        earliest = self._earliest_deadline
        if earliest is not None and now >= earliest:
            actions.extend(self._expire(now))
        return actions

    def _on_request(self, ev: RequestReceived) -> list[OutboundAction]:
        rid = ev.request_id
        config = self.config
        if config is None:
            return [Respond(rid, 503, "sidecar has no configuration yet")]
        # Filed under what the rules read (method, target, the header lines they name,
        # Host among them): requests that differ only elsewhere share one answer.
        read, other, size = split_lines(ev.headers, config.read_headers)
        key = (ev.method, ev.target, read)
        remember = size + len(ev.target) <= MAX_PLAN_KEY
        plans = config.plans
        plan = plans.get(key) if remember else None
        if plan is None:
            plan = _plan(config, self.service, ev.method, ev.target, read)
            if remember:
                if len(plans) >= MAX_PLANS:
                    plans.clear()
                plans[key] = plan
        if plan.local is not None:
            status, reason, route = plan.local
            return [Respond(rid, status, reason, route=route)]
        assert plan.decision is not None
        decision = plan.decision
        # A single backend with weight takes every request.
        index = 0 if len(plan.shares) == 1 else weighted_choice(plan.weights, ev.random)
        backend = plan.shares[index]
        # Positional, in the order of `_Flight`'s fields: keywords cost a dict per request.
        flight = _Flight(
            rid,
            config,
            decision,
            backend,
            plan.clusters[index],  # cluster
            ev.method,
            plan.target,
            plan.headers + tuple(join_headers(other).items()) if other else plan.headers,
            None if decision.timeout is None else ev.now + decision.timeout,  # deadline
            config.endpoints_of(backend.service, backend.version),  # members
            plan.identities[index],  # tls_identity
            plan.timeout,  # timeout_text
        )
        self._flights[rid] = flight
        self._latest[flight.cluster] = flight
        self._deadline_set(flight.deadline)
        return self._start_attempt(flight, ev.now)

    def _start_attempt(self, flight: _Flight, now: float) -> list[OutboundAction]:
        endpoint = self._balancer.pick(
            flight.cluster, flight.members, self.outliers.is_ejected, flight.tried
        )
        if endpoint is None:
            return self._finish(flight, 503, "no healthy upstream")
        flight.endpoint = endpoint
        flight.tried = flight.tried | {endpoint.instance}
        per_try = flight.decision.retries.per_try_timeout
        flight.attempt_deadline = None if per_try is None else now + per_try
        self._deadline_set(flight.attempt_deadline)
        self.pool.cluster(flight.cluster, flight.backend.breaker.connection_limits)
        conn = self.pool.idle(
            flight.cluster, endpoint, endpoint.port_for(flight.backend.port), flight.tls_identity
        )
        if conn is not None:
            return [self._send(flight, conn)]
        if self.pool.can_open(flight.cluster):
            return [self._open(flight, endpoint)]
        if self.pool.can_wait(flight.cluster):
            flight.state = FlightState.WAITING
            self.pool.wait(flight.cluster, flight.request_id)
            return []
        actions: list[OutboundAction] = [Overflowed(flight.request_id, flight.cluster)]
        return actions + self._finish(flight, 503, "upstream connection limit overflow")

    def _open(self, flight: _Flight, endpoint: Endpoint) -> OpenConnection:
        port = endpoint.port_for(flight.backend.port)
        conn = self.pool.open(flight.cluster, endpoint, port, flight.tls_identity)
        conn.request_id = flight.request_id
        flight.state = FlightState.CONNECTING
        flight.conn_id = conn.conn_id
        return OpenConnection(conn.conn_id, endpoint, flight.tls_identity, port)

    def _send(self, flight: _Flight, conn: Connection) -> SendRequest:
        self.pool.set_busy(conn)
        conn.request_id = flight.request_id
        flight.state = FlightState.SENT
        flight.conn_id = conn.conn_id
        flight.endpoint = conn.endpoint
        return SendRequest(
            flight.request_id, flight.attempt, conn.conn_id, flight.method, flight.target,
            flight.headers,
        )  # fmt: skip

    def _on_connected(self, ev: UpstreamConnected) -> list[OutboundAction]:
        conn = self.pool.connections.get(ev.conn_id)
        if conn is None:
            return [CloseConnection(ev.conn_id, "connection no longer wanted")]
        flight = self._flight_on(conn)
        if flight is not None and flight.state is FlightState.CONNECTING:
            return [self._send(flight, conn)]
        self.pool.set_idle(conn)
        conn.request_id = None
        return self._connection_free(conn, ev.now)

    def _on_connect_failed(self, ev: UpstreamConnectFailed) -> list[OutboundAction]:
        conn = self.pool.drop(ev.conn_id)
        if conn is None:
            return []
        actions: list[OutboundAction] = []
        flight = self._flight_on(conn)
        if flight is not None and flight.state is FlightState.CONNECTING:
            flight.conn_id = None
            actions.extend(self._attempt_failed(flight, FailureKind.CONNECT_FAILURE, ev.now))
        else:
            actions.extend(self._record(conn.endpoint, conn.cluster, _LOCAL_FAILURE_STATUS, ev.now))
        return actions + self._slot_freed(ev.now)

    def _on_response(self, ev: UpstreamResponse) -> list[OutboundAction]:
        flight = self._flights.get(ev.request_id)
        if flight is None or flight.attempt != ev.attempt or flight.state is not FlightState.SENT:
            return []
        actions: list[OutboundAction] = []
        conn = self.pool.connections.get(flight.conn_id) if flight.conn_id is not None else None
        flight.conn_id = None
        if conn is not None:
            conn.served += 1
            conn.request_id = None
            if not ev.keep_alive or self.pool.worn_out(conn):
                self.pool.drop(conn.conn_id)
                reason = "peer closes it" if not ev.keep_alive else "max requests per connection"
                actions.append(CloseConnection(conn.conn_id, reason))
                actions.extend(self._slot_freed(ev.now))
            else:
                self.pool.set_idle(conn)
        assert flight.endpoint is not None
        actions.extend(self._record(flight.endpoint, flight.cluster, ev.status, ev.now))
        policy = flight.decision.retries
        if retriable_status(policy, ev.status) and self._may_retry(flight, ev.now):
            actions.extend(self._retry(flight, f"status {ev.status}", ev.now))
        else:
            actions.extend(self._finish(flight, ev.status, "upstream response", relay=True))
        if conn is not None and conn.conn_id in self.pool.connections:
            actions.extend(self._connection_free(conn, ev.now))
        return actions

    def _on_failed(self, ev: UpstreamFailed) -> list[OutboundAction]:
        flight = self._flights.get(ev.request_id)
        if flight is None or flight.attempt != ev.attempt:
            return []
        actions: list[OutboundAction] = []
        if flight.conn_id is not None and self.pool.drop(flight.conn_id) is not None:
            actions.extend(self._slot_freed(ev.now))
        flight.conn_id = None
        return actions + self._attempt_failed(flight, ev.kind, ev.now)

    # -- attempts, retries, completion -----------------------------------------------

    def _attempt_failed(self, flight: _Flight, failure: str, now: float) -> list[OutboundAction]:
        assert flight.endpoint is not None
        status = _TIMEOUT_STATUS if failure == PER_TRY_TIMEOUT else _LOCAL_FAILURE_STATUS
        actions: list[OutboundAction] = [
            *self._record(flight.endpoint, flight.cluster, status, now)
        ]
        if retriable_failure(flight.decision.retries, failure) and self._may_retry(flight, now):
            return actions + self._retry(flight, failure, now)
        reason = "upstream per-try timeout" if failure == PER_TRY_TIMEOUT else f"upstream {failure}"
        return actions + self._finish(flight, status, reason)

    def _may_retry(self, flight: _Flight, now: float) -> bool:
        in_time = flight.deadline is None or now < flight.deadline
        return in_time and flight.attempt < flight.decision.retries.attempts

    def _retry(self, flight: _Flight, reason: str, now: float) -> list[OutboundAction]:
        flight.attempt += 1
        flight.conn_id = None
        retried = Retried(flight.request_id, flight.attempt, reason, flight.cluster)
        actions: list[OutboundAction] = [retried]
        return actions + self._start_attempt(flight, now)

    def _finish(
        self, flight: _Flight, status: int, reason: str, relay: bool = False
    ) -> list[OutboundAction]:
        self._flights.pop(flight.request_id, None)
        self.pool.unwait(flight.cluster, flight.request_id)
        # Positional, in the order of `Respond`'s fields: keywords cost a dict per request.
        return [
            Respond(
                flight.request_id,
                status,
                reason,
                flight.decision.route,
                flight.cluster,  # backend
                flight.attempt if relay else None,  # upstream_attempt
                None if flight.endpoint is None else flight.endpoint.instance,  # endpoint
                flight.timeout_text,  # timeout
            )
        ]

    def _record(self, endpoint: Endpoint, cluster: str, status: int, now: float) -> list[Ejected]:
        latest = self._latest.get(cluster)
        policy = None if latest is None else latest.backend.breaker.outlier_detection
        members = () if latest is None else latest.members
        return self.outliers.record(endpoint, status, policy, members, now)

    # -- connection slots --------------------------------------------------------------

    def _flight_on(self, conn: Connection) -> _Flight | None:
        if conn.request_id is None:
            return None
        flight = self._flights.get(conn.request_id)
        return flight if flight is not None and flight.conn_id == conn.conn_id else None

    def _connection_free(self, conn: Connection, now: float) -> list[OutboundAction]:
        """An idle connection: give it to the first request waiting in its cluster."""
        while (rid := self.pool.next_waiting(conn.cluster)) is not None:
            flight = self._flights.get(rid)
            if flight is not None and flight.state is FlightState.WAITING:
                return [self._send(flight, conn)]
        return []

    def _slot_freed(self, now: float) -> list[OutboundAction]:
        """A connection closed: waiting requests may open a new one."""
        actions: list[OutboundAction] = []
        for flight in list(self._flights.values()):
            if flight.state is FlightState.WAITING and self.pool.can_open(flight.cluster):
                self.pool.unwait(flight.cluster, flight.request_id)
                assert flight.endpoint is not None
                actions.append(self._open(flight, flight.endpoint))
        return actions

    def _deadline_set(self, deadline: float | None) -> None:
        if deadline is not None and (
            self._earliest_deadline is None or deadline < self._earliest_deadline
        ):
            self._earliest_deadline = deadline

    def _expire(self, now: float) -> list[OutboundAction]:
        if self._earliest_deadline is None or now < self._earliest_deadline:
            return []
        actions: list[OutboundAction] = []
        self._earliest_deadline = None
        for flight in list(self._flights.values()):
            if flight.request_id not in self._flights:
                continue
            if flight.deadline is not None and now >= flight.deadline:
                actions.extend(self._abandon_attempt(flight, now))
                actions.extend(self._finish(flight, _TIMEOUT_STATUS, "upstream request timeout"))
            elif flight.attempt_deadline is not None and now >= flight.attempt_deadline:
                actions.extend(self._abandon_attempt(flight, now))
                actions.extend(self._attempt_failed(flight, PER_TRY_TIMEOUT, now))
        for flight in self._flights.values():
            self._deadline_set(flight.deadline)
            self._deadline_set(flight.attempt_deadline)
        return actions

    def _abandon_attempt(self, flight: _Flight, now: float) -> list[OutboundAction]:
        """Stop waiting for the current attempt; a connection mid-request cannot be reused."""
        actions: list[OutboundAction] = []
        conn_id, flight.conn_id = flight.conn_id, None
        if flight.state is FlightState.WAITING:
            self.pool.unwait(flight.cluster, flight.request_id)
        elif flight.state is FlightState.SENT and conn_id is not None:
            if self.pool.drop(conn_id) is not None:
                actions.append(CloseConnection(conn_id, "upstream attempt abandoned"))
                actions.extend(self._slot_freed(now))
        elif flight.state is FlightState.CONNECTING and conn_id is not None:
            conn = self.pool.connections.get(conn_id)
            if conn is not None:
                conn.request_id = None  # it may still connect and serve someone else
        flight.attempt_deadline = None
        return actions

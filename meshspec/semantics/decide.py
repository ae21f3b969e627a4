"""The whole answer for one request: route, backends, authorization, mTLS, policy.

Order, as a request travels: the client's sidecar normalises the target
(400 if rejected), picks a route (404 if the service has routes and none
matches) and the weighted backends, with the route's timeout and retries;
each backend's sidecar enforces its port's mTLS mode and its service's
authorization (403). A client outside the mesh has no sidecar: it reaches
the addressed service's endpoints directly, with no route, no retries and no
timeout, and only the destination's checks apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshspec.durations import format_duration
from meshspec.semantics.authz import AuthzDecision, authorize
from meshspec.semantics.memo import remembered
from meshspec.semantics.mtls import Transport, port_mode, transport
from meshspec.semantics.paths import (
    NormalizedTarget,
    RejectedTarget,
    normalize_host,
    normalize_target,
)
from meshspec.semantics.request import Request
from meshspec.semantics.routing import select_route
from meshspec.semantics.steps import (
    BackendResult,
    Outcome,
    RetryPolicy,
    choose_port,
    host_parts,
    roll_up,
)
from meshspec.spec import (
    ConnectionLimits,
    HeaderEdits,
    MtlsMode,
    OutlierDetection,
    Port,
    Protocol,
    Spec,
)

DEFAULT_TIMEOUT = 15.0


# Frozen, so one instance serves every request without retries.
_NO_RETRIES = RetryPolicy()


@dataclass(frozen=True)
class BreakerPolicy:
    outlier_detection: OutlierDetection | None = None
    connection_limits: ConnectionLimits | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "outlierDetection": None
            if self.outlier_detection is None
            else self.outlier_detection.model_dump(mode="json", by_alias=True),
            "connectionLimits": None
            if self.connection_limits is None
            else self.connection_limits.model_dump(mode="json", by_alias=True, exclude_none=True),
        }


@dataclass(frozen=True)
class BackendShare:
    service: str
    version: str | None
    weight: int
    port: int | None
    mtls: MtlsMode
    transport: Transport
    authz: AuthzDecision | None
    breaker: BreakerPolicy

    def to_json(self, total: int) -> dict[str, object]:
        return {
            "service": self.service,
            "version": self.version,
            "weight": self.weight,
            "share": round(self.weight / total, 6) if total else 0.0,
            "port": self.port,
            "mtls": str(self.mtls),
            "transport": str(self.transport),
            "authz": None if self.authz is None else self.authz.to_json(),
            "resilience": self.breaker.to_json(),
        }


@dataclass(frozen=True)
class Decision:
    destination: str
    source: str | None
    outcome: Outcome
    status: int | None
    reason: str
    path: str | None = None
    route: str | None = None
    match: int | None = None
    backends: tuple[BackendShare, ...] = ()
    timeout: float | None = None
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def authz(self) -> AuthzDecision | None:
        """The decision of the first backend that gets traffic."""
        for b in self.weighted_backends:
            return b.authz
        return None

    @property
    def mtls(self) -> MtlsMode | None:
        for b in self.backends:
            return b.mtls
        return None

    @property
    def transport(self) -> Transport | None:
        for b in self.backends:
            return b.transport
        return None

    @property
    def weighted_backends(self) -> tuple[BackendShare, ...]:
        return tuple(b for b in self.backends if b.weight > 0)

    def weights(self) -> dict[tuple[str, str | None], int]:
        out: dict[tuple[str, str | None], int] = {}
        for b in self.backends:
            out[(b.service, b.version)] = out.get((b.service, b.version), 0) + b.weight
        return out

    def to_json(self) -> dict[str, object]:
        total = sum(b.weight for b in self.backends)
        authz = self.authz
        return {
            "destination": self.destination,
            "source": self.source,
            "outcome": str(self.outcome),
            "status": self.status,
            "reason": self.reason,
            "path": self.path,
            "route": self.route,
            "match": self.match,
            "backends": [b.to_json(total) for b in self.backends],
            "authz": None if authz is None else authz.to_json(),
            "mtls": None if self.mtls is None else str(self.mtls),
            "transport": None if self.transport is None else str(self.transport),
            "timeout": None if self.timeout is None else format_duration(self.timeout),
            "retries": self.retries.to_json(),
        }


class UnknownService(LookupError):
    """The destination or source names no service of the spec (or several)."""


#: hosts longer than a DNS name (253) are never remembered; nor more than this many per spec
_MAX_HOST = 255
_MAX_HOSTS = 4096


def resolve_service(spec: Spec, ref: str, namespace: str | None = None) -> str:
    """Key of the service a name, `ns/name` or host name (`name.ns.svc...`) means.

    Only what a client asks for is remembered, so the table is bounded: hosts
    no longer than a DNS name, at most `_MAX_HOSTS` of them per spec (then it
    starts over), and never a host that names nothing (that raises).
    """
    if len(ref) > _MAX_HOST:
        return _resolve_service(spec, ref, namespace)
    hosts = remembered(spec, "resolved_hosts", dict[tuple[str, str | None], str])
    key = hosts.get((ref, namespace))
    if key is None:
        key = _resolve_service(spec, ref, namespace)
        if len(hosts) >= _MAX_HOSTS:
            hosts.clear()
        hosts[(ref, namespace)] = key
    return key


def _resolve_service(spec: Spec, ref: str, namespace: str | None) -> str:
    """A host names a service only as `name`, `name.ns`, `name.ns.svc` or
    `name.ns.svc.cluster.local` (case, port and a trailing dot aside): a name with any
    other suffix (`admin-api.evil.example`) is outside the mesh and names nothing."""
    if "/" in ref:
        if ref in spec.services:
            return ref
        raise UnknownService(f"no service {ref}")
    parts = host_parts(normalize_host(ref))
    if parts is None:
        raise UnknownService(f"host {ref!r} is not a service of the mesh")
    name, host_namespace = parts
    if host_namespace is not None:
        key = f"{host_namespace}/{name}"
        if key in spec.services:
            return key
        raise UnknownService(f"no service {name!r} in namespace {host_namespace!r}")
    if namespace is not None and f"{namespace}/{name}" in spec.services:
        return f"{namespace}/{name}"
    found = spec.find(name)
    if len(found) == 1:
        return found[0]
    if not found:
        raise UnknownService(f"no service named {ref!r}")
    raise UnknownService(f"{ref!r} is ambiguous: {', '.join(found)}; write namespace/name")


def _apply_edits(headers: dict[str, str], edits: HeaderEdits | None) -> dict[str, str]:
    if edits is None:
        return headers
    out = dict(headers)
    for name, value in edits.set.items():
        out[name.lower()] = value
    for name, value in edits.add.items():
        key = name.lower()
        out[key] = f"{out[key]},{value}" if key in out else value
    for name in edits.remove:
        out.pop(name.lower(), None)
    return out


def breaker_policy(spec: Spec, key: str, version: str | None) -> BreakerPolicy:
    return remembered(
        spec, ("breaker_policy", key, version), lambda: _breaker_policy(spec, key, version)
    )


def _breaker_policy(spec: Spec, key: str, version: str | None) -> BreakerPolicy:
    svc = spec.service(key).spec
    base = svc.resilience
    od = base.outlier_detection if base else None
    cl = base.connection_limits if base else None
    if version is not None:
        v = spec.version(key, version)
        if v is not None and v.resilience is not None:
            od = v.resilience.outlier_detection or od
            cl = v.resilience.connection_limits or cl
    return BreakerPolicy(od, cl)


def _backend_port(spec: Spec, key: str, port: int | None) -> int:
    return remembered(spec, ("backend_port", key, port), lambda: _first_port(spec, key, port))


def _first_port(spec: Spec, key: str, port: int | None) -> int:
    return choose_port(((p.port, p.protocol) for p in spec.service(key).spec.ports), port)


def _ports(spec: Spec, key: str) -> dict[int, Port]:
    return remembered(
        spec, ("ports", key), lambda: {p.port: p for p in spec.service(key).spec.ports}
    )


def _identity(spec: Spec, key: str) -> str:
    return remembered(spec, ("identity", key), lambda: spec.identity(key))


_REASONS = {
    Outcome.UNAVAILABLE: "no backend gets traffic",
    Outcome.MTLS_REFUSED: "STRICT mTLS refuses a plaintext client",
    Outcome.DENIED: "authorization denied the request",
    Outcome.PARTIALLY_DENIED: "some backends would refuse the request",
    Outcome.FORWARDED: "forwarded",
}


def decide(spec: Spec, request: Request) -> Decision:
    """What the spec means for `request`. Raises UnknownService for unknown names."""
    source_key = None if request.source is None else resolve_service(spec, request.source)
    client_ns = None if source_key is None else spec.service(source_key).metadata.namespace
    dest_key = resolve_service(spec, request.destination, client_ns)
    dest = spec.service(dest_key)

    port = request.port
    ports = _ports(spec, dest_key)
    if port is not None and port not in ports:
        return Decision(
            destination=dest_key,
            source=source_key,
            outcome=Outcome.UNKNOWN_PORT,
            status=None,
            reason=f"service {dest_key} has no port {port}",
        )
    chosen_port = _backend_port(spec, dest_key, port)
    if ports[chosen_port].protocol is Protocol.TCP:
        return Decision(
            destination=dest_key,
            source=source_key,
            outcome=Outcome.NOT_HTTP,
            status=None,
            reason=f"port {chosen_port} of {dest_key} is TCP; HTTP routing does not apply",
        )

    norm = normalize_target(request.target)
    if isinstance(norm, RejectedTarget):
        return Decision(
            destination=dest_key,
            source=source_key,
            outcome=Outcome.BAD_REQUEST,
            status=norm.status,
            reason=norm.reason,
        )

    headers = request.header_map()
    method = request.method
    if source_key is None:
        return _finish(
            spec,
            request,
            (dest_key, source_key),
            norm,
            method,
            headers,
            None,
            None,
            [(dest_key, None, 1)],
            None,
            _NO_RETRIES,
            chosen_port,
        )

    sel = select_route(dest, method, norm, headers)
    if not sel.matched:
        return Decision(
            destination=dest_key,
            source=source_key,
            outcome=Outcome.NO_ROUTE,
            status=404,
            path=norm.path,
            reason=f"no route of {dest_key} matches",
        )
    if sel.route is None:
        return _finish(
            spec,
            request,
            (dest_key, source_key),
            norm,
            method,
            headers,
            None,
            None,
            [(dest_key, None, 1)],
            DEFAULT_TIMEOUT,
            _NO_RETRIES,
            chosen_port,
        )
    route = sel.route
    targets: list[tuple[str, str | None, int]] = []
    for b in route.backends or ():
        key = dest_key if b.service is None else spec.resolve(b.service, dest.metadata.namespace)
        if key is None:
            raise UnknownService(f"backend service {b.service!r} does not exist")
        targets.append((key, b.version, b.weight))
    if not targets:
        targets = [(dest_key, None, 1)]
    timeout = DEFAULT_TIMEOUT if route.timeout is None else (route.timeout or None)
    headers = _apply_edits(headers, route.request_headers)
    return _finish(
        spec,
        request,
        (dest_key, source_key),
        norm,
        method,
        headers,
        route.name,
        sel.match_index,
        targets,
        timeout,
        RetryPolicy.of(route.retries),
        chosen_port,
    )


def _finish(
    spec: Spec,
    request: Request,
    keys: tuple[str, str | None],
    norm: NormalizedTarget,
    method: str,
    headers: dict[str, str],
    route: str | None,
    match: int | None,
    targets: list[tuple[str, str | None, int]],
    timeout: float | None,
    retries: RetryPolicy,
    port: int,
) -> Decision:
    dest_key, source_key = keys
    in_mesh = source_key is not None
    shares: list[BackendShare] = []
    for key, version, weight in targets:
        bport = port if key == dest_key else _backend_port(spec, key, request.port)
        mode = port_mode(spec, key, bport)
        conn = transport(mode, in_mesh)
        peer = None
        if conn is Transport.MTLS and source_key is not None:
            peer = _identity(spec, source_key)
        verdict = None
        if conn is not Transport.REFUSED:
            verdict = authorize(spec, key, peer, method, norm, headers)
        # Breakers live in the client's sidecar: a client outside the mesh has none.
        breaker = breaker_policy(spec, key, version) if in_mesh else BreakerPolicy()
        shares.append(BackendShare(key, version, weight, bport, mode, conn, verdict, breaker))
    outcome, status = roll_up(
        [
            BackendResult(
                s.transport is Transport.REFUSED, None if s.authz is None else s.authz.allowed
            )
            for s in shares
            if s.weight > 0
        ]
    )
    reason = _REASONS[outcome]
    return Decision(
        destination=dest_key,
        source=source_key,
        outcome=outcome,
        status=status,
        reason=reason,
        path=norm.path,
        route=route,
        match=match,
        backends=tuple(shares),
        timeout=timeout,
        retries=retries,
        headers=headers,
    )

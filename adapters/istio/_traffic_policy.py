"""DestinationRules: version subsets, client-side TLS, outlier detection, connection pools.

Every service gets one, because Istio's client-side default (auto-mTLS) must
agree with the server's mode: ISTIO_MUTUAL towards STRICT and PERMISSIVE
ports, DISABLE towards DISABLE ports (istio/api `destination_rule.proto`,
`ClientTLSSettings`). A subset's trafficPolicy replaces the host-level one
field by field (connectionPool, outlierDetection), which is the neutral
per-version override (`meshspec.semantics.breaker_policy`).
"""

from __future__ import annotations

from typing import Any

from adapters._k8s import duration, fqdn, metadata, resource, source_of
from adapters.istio.resources import NETWORKING
from adapters.kit import CompileContext
from meshspec.semantics import port_mode
from meshspec.spec import ConnectionLimits, MtlsMode, OutlierDetection, Resilience


def destination_rules(ctx: CompileContext) -> list[dict[str, Any]]:
    return [_destination_rule(ctx, key) for key in ctx.spec.services]


def _destination_rule(ctx: CompileContext, key: str) -> dict[str, Any]:
    svc = ctx.spec.service(key)
    name, ns = svc.metadata.name, svc.metadata.namespace
    policy: dict[str, Any] = {"tls": _tls(port_mode(ctx.spec, key, None))}
    policy.update(_resilience(svc.spec.resilience))
    # The Service port, not the workload port: "a port on the destination service"
    # (istio/api `networking/v1alpha3/destination_rule.proto`, PortTrafficPolicy).
    port_settings = [
        {"port": {"number": p.port}, "tls": _tls(mode)}
        for p in sorted(svc.spec.ports, key=lambda p: p.port)
        if (mode := port_mode(ctx.spec, key, p.port)) is not port_mode(ctx.spec, key, None)
    ]
    if port_settings:
        policy["portLevelSettings"] = port_settings
    spec: dict[str, Any] = {"host": fqdn(name, ns), "trafficPolicy": policy}
    subsets = []
    for v in svc.spec.versions:
        subset: dict[str, Any] = {"name": v.name, "labels": dict(sorted(v.selector.items()))}
        override = _resilience(v.resilience)
        if override:
            subset["trafficPolicy"] = override
        subsets.append(subset)
    if subsets:
        spec["subsets"] = subsets
    meta = metadata(name, ns, source_of(ctx.spec, key))
    return resource(NETWORKING, "DestinationRule", meta, spec)


def _tls(mode: MtlsMode) -> dict[str, str]:
    return {"mode": "DISABLE" if mode is MtlsMode.DISABLE else "ISTIO_MUTUAL"}


def _resilience(res: Resilience | None) -> dict[str, Any]:
    if res is None:
        return {}
    out: dict[str, Any] = {}
    if res.connection_limits is not None:
        pool = _connection_pool(res.connection_limits)
        if pool:
            out["connectionPool"] = pool
    if res.outlier_detection is not None:
        out["outlierDetection"] = _outlier_detection(res.outlier_detection)
    return out


def _connection_pool(limits: ConnectionLimits) -> dict[str, Any]:
    pool: dict[str, Any] = {}
    if limits.max_connections is not None:
        pool["tcp"] = {"maxConnections": limits.max_connections}
    http: dict[str, int] = {}
    if limits.max_pending_requests is not None:
        http["http1MaxPendingRequests"] = limits.max_pending_requests
    if limits.max_requests_per_connection is not None:
        http["maxRequestsPerConnection"] = limits.max_requests_per_connection
    if http:
        pool["http"] = http
    return pool


def _outlier_detection(od: OutlierDetection) -> dict[str, Any]:
    """Every field written, so Istio's defaults never decide; 0 turns a counter off."""
    out: dict[str, Any] = {"consecutive5xxErrors": od.consecutive_5xx_errors or 0}
    if od.consecutive_gateway_errors is not None:
        out["consecutiveGatewayErrors"] = od.consecutive_gateway_errors
    out["interval"] = duration(od.interval)
    out["baseEjectionTime"] = duration(od.base_ejection_time)
    out["maxEjectionPercent"] = od.max_ejection_percent
    return out

"""The outlier detection and connection pool a client sidecar applies to one destination.

Read from the DestinationRule the client sees (istio/api
`networking/v1alpha3/destination_rule.proto`). `TrafficPolicy.portLevelSettings`
"override the destination-level settings" for their port, and a subset's
`trafficPolicy` overrides "the corresponding settings specified at the
DestinationRule level" (`Subset.trafficPolicy`): each of `connectionPool` and
`outlierDetection` is replaced whole, never merged field by field. Istio's
names map to the neutral ones:

* `outlierDetection.consecutive5xxErrors` (default 5; 0 turns it off),
  `consecutiveGatewayErrors` (default 0, off), `interval` (default 10s),
  `baseEjectionTime` (default 30s), `maxEjectionPercent` (default 10);
* `connectionPool.tcp.maxConnections` -> maxConnections,
  `connectionPool.http.http1MaxPendingRequests` -> maxPendingRequests,
  `connectionPool.http.maxRequestsPerConnection` -> maxRequestsPerConnection
  (left out: Envoy's 2^32-1, i.e. no limit).

A client outside the mesh has no sidecar, hence no cluster settings at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.kit import envoy
from meshspec.durations import format_duration, parse_duration
from meshspec.semantics import BreakerPolicy
from meshspec.spec import ConnectionLimits, OutlierDetection

_KINDS = ("connectionPool", "outlierDetection")
#: Istio leaves unset fields to Envoy, whose defaults its docs repeat
_ENVOY = envoy.OUTLIER_DEFAULTS


def breaker_policy(rule: Mapping[str, Any] | None, subset: str | None, port: int) -> BreakerPolicy:
    if rule is None:
        return BreakerPolicy()
    spec = rule.get("spec") or {}
    settings = _effective(spec.get("trafficPolicy"), port, {})
    if subset is not None:
        for s in spec.get("subsets") or ():
            if s.get("name") == subset:
                settings = _effective(s.get("trafficPolicy"), port, settings)
    return BreakerPolicy(
        _outlier_detection(settings.get("outlierDetection")),
        _connection_limits(settings.get("connectionPool")),
    )


def _effective(
    policy: Mapping[str, Any] | None, port: int, inherited: Mapping[str, Any]
) -> dict[str, Any]:
    out = dict(inherited)
    if not isinstance(policy, Mapping):
        return out
    out.update({k: policy[k] for k in _KINDS if policy.get(k) is not None})
    for level in policy.get("portLevelSettings") or ():
        if (level.get("port") or {}).get("number") == port:
            out.update({k: level[k] for k in _KINDS if level.get(k) is not None})
    return out


def _duration(value: Any, default: float) -> str:
    """Protobuf duration text (`5s`, `1m`) as the neutral model writes it."""
    return format_duration(default if value is None else parse_duration(str(value)))


def _outlier_detection(od: Mapping[str, Any] | None) -> OutlierDetection | None:
    if not isinstance(od, Mapping):
        return None
    gateway = od.get("consecutiveGatewayErrors")
    return OutlierDetection.model_validate(
        {
            "consecutive5xxErrors": int(od.get("consecutive5xxErrors", _ENVOY.consecutive_5xx)),
            "consecutiveGatewayErrors": None if gateway is None else int(gateway),
            "interval": _duration(od.get("interval"), _ENVOY.interval),
            "baseEjectionTime": _duration(od.get("baseEjectionTime"), _ENVOY.base_ejection_time),
            "maxEjectionPercent": int(od.get("maxEjectionPercent", _ENVOY.max_ejection_percent)),
        }
    )


def _connection_limits(pool: Mapping[str, Any] | None) -> ConnectionLimits | None:
    if not isinstance(pool, Mapping):
        return None
    tcp = pool.get("tcp") or {}
    http = pool.get("http") or {}
    values = {
        "maxConnections": tcp.get("maxConnections"),
        "maxPendingRequests": http.get("http1MaxPendingRequests"),
        "maxRequestsPerConnection": http.get("maxRequestsPerConnection"),
    }
    limits = {k: int(v) for k, v in values.items() if v}  # 0 or absent: Envoy's default, no limit
    return ConnectionLimits.model_validate(limits) if limits else None

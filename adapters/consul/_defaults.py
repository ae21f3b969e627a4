"""service-defaults, proxy-defaults and mesh: protocols, mTLS, upstream limits, normalisation.

* `Protocol` decides whether routers, splitters and L7 intentions apply at all (discovery
  chain compile: "does not permit advanced routing or splitting behavior" for tcp).
* `MutualTLSMode` is `strict` or `permissive` per service (service-defaults reference) and
  mesh-wide (proxy-defaults reference); permissive needs mesh `AllowEnablingPermissiveMutualTLS`
  and transparent proxy (hashicorp/consul PR #17183). There is no per-port mode and no way to
  turn mTLS off between sidecars.
* Limits and passive health checks belong to the *calling* service's `UpstreamConfig`
  (service-defaults reference, `UpstreamConfig.Overrides[]`/`Defaults`; written once as
  `Defaults` where upstreams share them, `_upstreams`), and Consul always gives
  an upstream cluster Envoy's outlier detection (consul `agent/xds/config` `ToOutlierDetection`:
  an empty block enables Envoy's defaults, 5 consecutive 5xx); `EnforcingConsecutive5xx: 0`
  turns it off, which is the spec's default.
* mesh `HTTP.Incoming.RequestNormalization` (Consul 1.20.1+): normalise paths, merge slashes
  and refuse escaped slashes, as the spec does.
"""

from __future__ import annotations

from typing import Any

from adapters.consul import codes as C
from adapters.consul._upstreams import upstream_config
from adapters.consul.entries import MESH, PROXY_DEFAULTS, SERVICE_DEFAULTS, entry
from adapters.kit import CompileContext
from meshspec.durations import format_duration
from meshspec.spec import MtlsMode, Protocol, Spec
from meshspec.spec.resilience import Resilience

#: strictest first
_STRICTNESS = {MtlsMode.STRICT: 0, MtlsMode.PERMISSIVE: 1, MtlsMode.DISABLE: 2}
_OFF = {"PassiveHealthCheck": {"EnforcingConsecutive5xx": 0}}

NORMALIZATION = {
    "InsecureDisablePathNormalization": False,
    "MergeSlashes": True,
    "PathWithEscapedSlashesAction": "REJECT_REQUEST",
}


def protocol(spec: Spec, key: str, found: CompileContext) -> str:
    ports = spec.service(key).spec.ports
    kinds = [p.protocol for p in ports]
    if len(set(kinds)) > 1:
        found.report(
            C.MIXED_PROTOCOLS,
            key,
            ("spec", "ports"),
            f"ports of {', '.join(sorted(set(map(str, kinds))))}: the service is written as "
            f"{_consul_protocol(_l7_first(kinds))}",
            hint="",
        )
    return _consul_protocol(_l7_first(kinds))


def _l7_first(kinds: list[Protocol]) -> Protocol:
    for k in kinds:
        if k is not Protocol.TCP:
            return k
    return Protocol.TCP


def _consul_protocol(p: Protocol) -> str:
    return {Protocol.HTTP: "http", Protocol.GRPC: "grpc", Protocol.TCP: "tcp"}[p]


def service_mtls(spec: Spec, key: str, found: CompileContext) -> MtlsMode | None:
    """The service's own mode (None: the mesh's), the strictest where its ports differ."""
    mtls = spec.service(key).spec.mtls
    if mtls is None:
        return None
    base = mtls.mode or spec.mesh.mtls.mode
    modes = {base, *mtls.ports.values()} if mtls.ports else {base}
    if len(modes) > 1:
        chosen = min(modes, key=lambda m: _STRICTNESS[m])
        found.report(
            C.MTLS_PER_PORT,
            key,
            ("spec", "mtls", "ports"),
            f"every port of the service gets {chosen}",
            hint="",
        )
        return chosen
    return mtls.mode


def mode_value(
    mode: MtlsMode, key: str, where: tuple[str | int, ...], found: CompileContext
) -> str:
    if mode is MtlsMode.DISABLE:
        found.report(
            C.MTLS_DISABLE,
            key,
            where,
            "Consul keeps mTLS between sidecars: callers stay authenticated, so rules on "
            "identities hold for them where the spec says no rule on identities can",
            hint="use PERMISSIVE or STRICT for Consul",
        )
        return "strict"
    if mode is MtlsMode.PERMISSIVE:
        found.report(
            C.MTLS_PERMISSIVE,
            key,
            where,
            "clients outside the mesh reach the service in plaintext only with transparent proxy",
            hint="",
        )
        return "permissive"
    return "strict"


def upstream_overrides(spec: Spec, found: CompileContext) -> list[dict[str, Any]]:
    """What every caller writes for the services with resilience (the same for each)."""
    return [o for o in (_override(spec, k, found) for k in spec.services) if o is not None]


def upstreams(spec: Spec, found: CompileContext) -> dict[str, Any]:
    """Every caller's `UpstreamConfig`: the shared setting as `Defaults`, the others as
    `Overrides` (`_upstreams`)."""
    names = [svc.metadata.name for svc in spec.services.values()]
    return upstream_config(names, upstream_overrides(spec, found), _OFF)


def service_defaults(
    spec: Spec,
    key: str,
    proto: str,
    mode: MtlsMode | None,
    upstream: dict[str, Any],
    found: CompileContext,
) -> dict[str, Any]:
    svc = spec.service(key)
    fields: dict[str, Any] = {"Protocol": proto}
    if mode is not None:
        fields["MutualTLSMode"] = mode_value(mode, key, ("spec", "mtls", "mode"), found)
    fields["UpstreamConfig"] = upstream
    return entry(SERVICE_DEFAULTS, svc.metadata.name, **fields)


def virtual_defaults(name: str) -> dict[str, Any]:
    """A splitter's virtual service needs an L7 protocol of its own."""
    return entry(SERVICE_DEFAULTS, name, Protocol="http")


def _override(spec: Spec, key: str, found: CompileContext) -> dict[str, Any] | None:
    svc = spec.service(key)
    res = svc.spec.resilience
    if any(v.resilience is not None for v in svc.spec.versions):
        found.report(
            C.PER_VERSION_RESILIENCE,
            key,
            ("spec", "versions"),
            "the versions' own resilience is left out; every version gets the service's",
            hint="",
        )
    if res is None:
        return None
    out: dict[str, Any] = {"Name": svc.metadata.name, **_OFF}
    out.update(_resilience(res, key, found))
    return out


def _resilience(res: Resilience, key: str, found: CompileContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    od = res.outlier_detection
    if od is not None:
        check: dict[str, Any] = {
            "Interval": format_duration(od.interval),
            "BaseEjectionTime": format_duration(od.base_ejection_time),
            "MaxEjectionPercent": od.max_ejection_percent,
        }
        if od.consecutive_5xx_errors:
            check["MaxFailures"] = od.consecutive_5xx_errors
            check["EnforcingConsecutive5xx"] = 100
        else:
            check["EnforcingConsecutive5xx"] = 0
        out["PassiveHealthCheck"] = check
        if od.consecutive_gateway_errors is not None:
            found.report(
                C.GATEWAY_ERRORS,
                key,
                ("spec", "resilience", "outlierDetection", "consecutiveGatewayErrors"),
                "left out",
                hint="",
            )
    cl = res.connection_limits
    if cl is not None:
        limits: dict[str, Any] = {}
        if cl.max_connections is not None:
            limits["MaxConnections"] = cl.max_connections
        if cl.max_pending_requests is not None:
            limits["MaxPendingRequests"] = cl.max_pending_requests
        if limits:
            out["Limits"] = limits
        if cl.max_requests_per_connection is not None:
            found.report(
                C.REQUESTS_PER_CONNECTION,
                key,
                ("spec", "resilience", "connectionLimits", "maxRequestsPerConnection"),
                "left out",
                hint="",
            )
    return out


def proxy_defaults(spec: Spec, found: CompileContext) -> dict[str, Any]:
    mode = mode_value(spec.mesh.mtls.mode, "mesh", ("spec", "mtls", "mode"), found)
    return entry(PROXY_DEFAULTS, "global", MutualTLSMode=mode)


def mesh(permissive: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if permissive:
        fields["AllowEnablingPermissiveMutualTLS"] = True
    fields["HTTP"] = {"Incoming": {"RequestNormalization": dict(NORMALIZATION)}}
    return entry(MESH, "mesh", **fields)

"""DestinationRule subsets, client TLS and circuit breaking as neutral versions and resilience.

istio/api `networking/v1alpha3/destination_rule.proto`: subsets are versions
(name + labels); `outlierDetection` is off unless written and its unset fields take
the same defaults the neutral spec uses; `connectionPool` limits map to
`connectionLimits`. `tls.mode: DISABLE` makes clients send plaintext even to a
PERMISSIVE server (and breaks STRICT ones): the neutral spec has no client-side TLS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.istio import import_codes as C
from adapters.istio._import_context import ImportContext, PathKey, ServiceDraft
from meshspec.adapter import NativeDocument
from meshspec.durations import format_duration, parse_duration

_OUTLIER = {
    "consecutive5xxErrors": "consecutive5xxErrors",
    "consecutiveGatewayErrors": "consecutiveGatewayErrors",
    "interval": "interval",
    "baseEjectionTime": "baseEjectionTime",
    "maxEjectionPercent": "maxEjectionPercent",
}
_DURATIONS = ("interval", "baseEjectionTime")


def import_destination_rule(ctx: ImportContext, doc: NativeDocument, svc: ServiceDraft) -> None:
    spec = doc.data.get("spec") or {}
    for index, subset in enumerate(spec.get("subsets") or []):
        path: PathKey = ("spec", "subsets", index)
        name = str(subset.get("name", ""))
        if not name:
            ctx.report(C.UNREADABLE, doc, path, "a subset needs a name")
            continue
        labels = {str(k): str(v) for k, v in (subset.get("labels") or {}).items()}
        svc.versions.setdefault(name, labels)
        policy = subset.get("trafficPolicy")
        tls = policy.get("tls") if isinstance(policy, Mapping) else None
        if isinstance(tls, Mapping) and str(tls.get("mode", "")).upper() != "ISTIO_MUTUAL":
            ctx.report(
                C.CLIENT_TLS,
                doc,
                (*path, "trafficPolicy", "tls", "mode"),
                f"clients of subset {name!r} use tls mode {tls.get('mode')}; the neutral "
                "spec has no per-version client TLS (the mesh chooses mTLS)",
            )
        if isinstance(policy, Mapping):
            res = _resilience(ctx, doc, (*path, "trafficPolicy"), policy)
            if res:
                svc.version_resilience[name] = res
    policy = spec.get("trafficPolicy")
    if isinstance(policy, Mapping):
        res = _resilience(ctx, doc, ("spec", "trafficPolicy"), policy)
        if res:
            svc.resilience = res
        _record_tls(svc, None, doc, ("spec", "trafficPolicy"), policy)
        for pi, setting in enumerate(policy.get("portLevelSettings") or []):
            where: PathKey = ("spec", "trafficPolicy", "portLevelSettings", pi)
            port = (setting.get("port") or {}).get("number")
            if port is not None:
                if not svc.declared:
                    svc.ports.setdefault(int(port), "http")
                _record_tls(svc, int(port), doc, where, setting)
            for key in setting:
                if key not in ("port", "tls"):
                    ctx.report(C.FIELD_DROPPED, doc, (*where, key), f"per-port `{key}` is not kept")
    for extra in ("exportTo", "workloadSelector"):
        if spec.get(extra) is not None:
            ctx.report(C.FIELD_DROPPED, doc, ("spec", extra), f"`{extra}` is not kept")


def _resilience(
    ctx: ImportContext, doc: NativeDocument, path: PathKey, policy: Mapping[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    od = policy.get("outlierDetection")
    if isinstance(od, Mapping):
        outlier: dict[str, Any] = {}
        for key, value in od.items():
            if key in _OUTLIER:
                if key in _DURATIONS:
                    value = format_duration(parse_duration(str(value)))
                outlier[_OUTLIER[key]] = value
            else:
                ctx.report(
                    C.FIELD_DROPPED, doc, (*path, "outlierDetection", key), f"`{key}` is not kept"
                )
        out["outlierDetection"] = outlier
    pool = policy.get("connectionPool")
    if isinstance(pool, Mapping):
        limits: dict[str, Any] = {}
        tcp = pool.get("tcp") or {}
        http = pool.get("http") or {}
        if tcp.get("maxConnections"):
            limits["maxConnections"] = int(tcp["maxConnections"])
        if http.get("http1MaxPendingRequests"):
            limits["maxPendingRequests"] = int(http["http1MaxPendingRequests"])
        if http.get("maxRequestsPerConnection"):
            limits["maxRequestsPerConnection"] = int(http["maxRequestsPerConnection"])
        for section, values, kept in (
            ("tcp", tcp, {"maxConnections"}),
            ("http", http, {"http1MaxPendingRequests", "maxRequestsPerConnection"}),
        ):
            for key in values:
                if key not in kept:
                    ctx.report(
                        C.FIELD_DROPPED,
                        doc,
                        (*path, "connectionPool", section, key),
                        f"`{section}.{key}` is not kept",
                    )
        if limits:
            out["connectionLimits"] = limits
    for key in policy:
        if key not in ("tls", "outlierDetection", "connectionPool", "portLevelSettings"):
            ctx.report(C.FIELD_DROPPED, doc, (*path, key), f"`{key}` is not kept")
    return out


def _record_tls(
    svc: ServiceDraft, port: int | None, doc: NativeDocument, path: PathKey, policy: Any
) -> None:
    tls = policy.get("tls") if isinstance(policy, Mapping) else None
    if isinstance(tls, Mapping) and tls.get("mode"):
        svc.client_tls[port] = (str(tls["mode"]).upper(), doc, (*path, "tls", "mode"))


def check_client_tls(ctx: ImportContext, svc: ServiceDraft, mesh_mode: str) -> None:
    """Client TLS that agrees with the server's mode is what the neutral spec does anyway
    (auto mTLS); any other choice changes what happens on the wire."""
    for port in sorted(svc.ports) or [80]:  # 80: the port the importer assumes
        chosen = svc.client_tls.get(port) or svc.client_tls.get(None)
        if chosen is None:
            continue
        mode, doc, path = chosen
        server = svc.mtls_ports.get(port) or svc.mtls_workload or svc.mtls_namespace or mesh_mode
        consistent = (mode == "DISABLE") == (server == "DISABLE") and mode in (
            "DISABLE",
            "ISTIO_MUTUAL",
        )
        if not consistent:
            ctx.report(
                C.CLIENT_TLS,
                doc,
                path,
                f"clients use tls mode {mode} towards port {port}, whose server mode is "
                f"{server}; the neutral spec lets the mesh choose (mTLS unless the server "
                "disables it)",
                example={"method": "GET", "target": "/", "headers": {}},
            )

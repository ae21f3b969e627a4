"""Neutral spec -> Linkerd 2.20 resources.

Outbound: GAMMA HTTPRoutes with Service parents (`_routes.py`, on the builder shared
with the gateway-api target), per-version Services, retries as `retry.linkerd.io/*`
annotations on the routes. Inbound: Servers, inbound HTTPRoutes, authentications and
AuthorizationPolicies (`_policy.py`). Breakers: failure accrual annotations on the
backend Services (linkerd.io `reference/circuit-breaking.md`): consecutive 5xx ->
`max-failures`, base ejection time -> `min-penalty`; what Linkerd has no setting for
is a diagnostic.
"""

from __future__ import annotations

from typing import Any

from adapters import _gamma as G
from adapters._k8s import duration, metadata, source_of, workload_selector
from adapters.kit import CompileContext
from adapters.linkerd import codes as C
from adapters.linkerd import resources as R
from adapters.linkerd._policy import PolicyCompiler
from adapters.linkerd._routes import service_routes
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec import OutlierDetection, Resilience, Spec
from meshspec.spec.bundle import PathKey

TARGET = "linkerd"
_OUTLIER_DEFAULTS = OutlierDetection()


def compile_linkerd(spec: Spec) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    ctx = CompileContext(spec, TARGET)

    def report(code: Code, key: str, path: PathKey, message: str) -> None:
        ctx.report(code, key, path, message, "")

    policy = PolicyCompiler(spec, report)
    routes: list[dict[str, Any]] = []
    for key in spec.services:
        routes += service_routes(spec, key, report)
        policy.service(key)
    services = _services(spec, report)
    resources = [
        *services,
        *policy.servers,
        *policy.authns,
        *policy.networks,
        *routes,
        *policy.routes,
        *policy.policies,
    ]
    return resources, _once(ctx.diagnostics)


def _once(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Each finding once: a service's ports repeat what is true of the service."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for d in diagnostics:
        key = (d.code, str(d.location), d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _services(spec: Spec, report: Any) -> list[dict[str, Any]]:
    """The per-version Services, and the service's own Service where failure accrual needs
    its annotations; each carries the accrual of the resilience that applies to it."""
    out = []
    versions = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): s for s in G.version_services(spec)
    }
    for key, svc in spec.services.items():
        base = svc.spec.resilience
        if base is not None:
            notes = _accrual(
                base,
                lambda p, m, code, key=key: report(code, key, ("spec", "resilience", *p), m),
            )
            if notes:
                own = _own_service(spec, key)
                own["metadata"]["annotations"].update(notes)
                own["metadata"]["annotations"] = dict(
                    sorted(own["metadata"]["annotations"].items())
                )
                out.append(own)
        for i, v in enumerate(svc.spec.versions):
            doc = versions[
                (svc.metadata.namespace, G.version_service_name(svc.metadata.name, v.name))
            ]
            resilience = base
            if v.resilience is not None:
                resilience = v.resilience
                path: PathKey = ("spec", "versions", i, "resilience")
                _accrual(
                    v.resilience,
                    lambda p, m, code, path=path, key=key: report(code, key, (*path, *p), m),
                )
            if resilience is not None:
                notes = _accrual(resilience, lambda p, m, code: None)
                doc["metadata"]["annotations"] = dict(
                    sorted({**doc["metadata"]["annotations"], **notes}.items())
                )
            out.append(doc)
    return out


def _own_service(spec: Spec, key: str) -> dict[str, Any]:
    svc = spec.service(key)
    ports = [
        {
            "name": p.name or f"{p.protocol}-{p.port}",
            "port": p.port,
            "targetPort": p.workload_port,
            "protocol": "TCP",
            "appProtocol": str(p.protocol),
        }
        for p in svc.spec.ports
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(svc.metadata.name, svc.metadata.namespace, source_of(spec, key)),
        "spec": {"selector": workload_selector(svc.metadata.name), "ports": ports},
    }


def _accrual(resilience: Resilience, lost: Any) -> dict[str, str]:
    """Failure accrual annotations for an outlier detection; losses through `lost`."""
    if resilience.connection_limits is not None:
        lost(("connectionLimits",), "connection limits left out", C.NO_CONNECTION_LIMITS)
    od = resilience.outlier_detection
    if od is None:
        return {}
    notes = {R.ACCRUAL: "consecutive"}
    if od.consecutive_5xx_errors:
        notes[R.ACCRUAL_MAX_FAILURES] = str(od.consecutive_5xx_errors)
    else:
        lost(
            ("outlierDetection", "consecutive5xxErrors"),
            "Linkerd counts every 5xx",
            C.BREAKER_FIELD,
        )
    notes[R.ACCRUAL_MIN_PENALTY] = duration(od.base_ejection_time)
    for name, value, default in (
        ("interval", od.interval, _OUTLIER_DEFAULTS.interval),
        ("maxEjectionPercent", od.max_ejection_percent, _OUTLIER_DEFAULTS.max_ejection_percent),
    ):
        if value != default or name == "maxEjectionPercent":
            lost(
                ("outlierDetection", name),
                f"{name} has no Linkerd equivalent (Linkerd ejects any number of endpoints)"
                if name == "maxEjectionPercent"
                else f"{name} has no Linkerd equivalent (failures are counted as they come)",
                C.BREAKER_FIELD,
            )
    if od.consecutive_gateway_errors:
        lost(("outlierDetection", "consecutiveGatewayErrors"), "left out", C.BREAKER_FIELD)
    lost(
        ("outlierDetection", "baseEjectionTime"),
        "an ejected endpoint is probed after min-penalty, then backs off up to max-penalty (1m)",
        C.ACCRUAL_BACKOFF,
    )
    return notes

"""Neutral spec -> GAMMA HTTPRoutes: the portable subset every mesh that implements
Gateway API for mesh reads (Istio, Linkerd, Kuma, Cilium, ...).

Each HTTP port of a service with routes gets a producer HTTPRoute (the Service as
parent, in its namespace) with one rule per neutral route in the order written:
Gateway API's precedence is the spec's (exact path, longest prefix, method,
header count, query count, then rule order; gateway-api `apis/v1/httproute_types.go`
`HTTPRouteRule` comment), so no reordering is needed. A service without routes gets
one catch-all rule that carries the spec's 15 s timeout (unset is
implementation-specific). Versions are Services of their own (`<service>-<version>`),
written here too. Everything Gateway API has no standard field for is a diagnostic.
"""

from __future__ import annotations

from typing import Any

from adapters import _gamma as G
from adapters.gateway_api import codes as C
from adapters.kit import CompileContext
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec import MtlsMode, Spec
from meshspec.spec.bundle import PathKey

TARGET = "gateway-api"


def compile_gateway_api(spec: Spec) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    ctx = CompileContext(spec, TARGET)
    diagnostics = ctx.diagnostics
    routes: list[dict[str, Any]] = []

    def report(code: Code, key: str, path: PathKey, message: str, hint: str = "") -> None:
        ctx.report(code, key, path, message, hint)

    _mtls(spec, diagnostics, report)
    for key, svc in spec.services.items():
        if svc.spec.authorization is not None:
            report(
                C.NO_AUTHORIZATION,
                key,
                ("spec", "authorization"),
                "authorization left out: the mesh's own policy resources must carry it",
                "compile for the mesh itself (--target istio or linkerd) to keep it",
            )
        resilience = [svc.spec.resilience, *(v.resilience for v in svc.spec.versions)]
        if any(r is not None for r in resilience):
            report(C.NO_RESILIENCE, key, ("spec", "resilience"), "resilience left out")
        for i, route in enumerate(svc.spec.routes):
            base: PathKey = ("spec", "routes", i)
            if route.retries is not None and route.retries.attempts:
                report(C.RETRIES_EXPERIMENTAL, key, (*base, "retries"), "retries left out")
            for j, m in enumerate(route.matches):
                if m.path is not None and m.path.regex is not None:
                    report(
                        C.REGEX_PRECEDENCE,
                        key,
                        (*base, "matches", j, "path"),
                        "a regex path is written as RegularExpression; how it ranks against "
                        "prefixes, and its dialect, depend on the mesh",
                    )
        routes += _service_routes(spec, key, report)
    return [*G.version_services(spec), *routes], diagnostics


def _mtls(spec: Spec, diagnostics: list[Diagnostic], report: Any) -> None:
    modes = {spec.mesh.mtls.mode}
    for key, svc in spec.services.items():
        m = svc.spec.mtls
        if m is None:
            continue
        if m.mode not in (None, MtlsMode.STRICT) or any(
            v is not MtlsMode.STRICT for v in m.ports.values()
        ):
            report(C.MTLS_SETTING, key, ("spec", "mtls"), "the service's mTLS modes left out")
        modes |= {mode for mode in (m.mode, *m.ports.values()) if mode is not None}
    if spec.mesh.mtls.mode is not MtlsMode.STRICT:
        report(C.MTLS_SETTING, "mesh", ("spec", "mtls"), "the mesh's mTLS mode left out")
    elif MtlsMode.STRICT in modes:
        diagnostics.append(
            C.MTLS_IMPLICIT(
                "STRICT mTLS is what GAMMA meshes do between meshed workloads, but nothing "
                "in the output requires it",
                target=TARGET,
                hint="require it with the mesh's own resources",
            )
        )


def _service_routes(spec: Spec, key: str, report: Any) -> list[dict[str, Any]]:
    svc = spec.service(key)
    ports = G.http_ports(svc.spec.ports)
    several = len(ports) > 1
    out: list[dict[str, Any]] = []

    def lost(path: PathKey, message: str) -> None:
        report(C.TOO_MANY_RULES, key, path, message)

    for port in ports:
        name = G.route_name_of(svc.metadata.name, port.port, several)
        parent_port = port.port if several else None
        if not svc.spec.routes:
            rule = G.default_rule(spec, key, port.port)
            out.append(G.http_route(spec, key, name, parent_port, [rule], [""]))
            continue
        rules: list[tuple[str, dict[str, Any]]] = []
        for i, route in enumerate(svc.spec.routes):
            rules.append((route.name, G.build_rule(spec, key, port.port, route, i, None, lost)))
        chunks = [rules[i : i + G.MAX_RULES] for i in range(0, len(rules), G.MAX_RULES)]
        if len(chunks) > 1:
            report(
                C.TOO_MANY_RULES,
                key,
                ("spec", "routes"),
                f"{len(rules)} routes need {len(chunks)} HTTPRoutes; ties between them go to "
                "the oldest, then the first by name",
            )
        for n, chunk in enumerate(chunks):
            route_name = name if n == 0 else f"{name}-{n + 1}"
            out.append(
                G.http_route(
                    spec,
                    key,
                    route_name,
                    parent_port,
                    [r for _, r in chunk],
                    [neutral for neutral, _ in chunk],
                )
            )
    return out

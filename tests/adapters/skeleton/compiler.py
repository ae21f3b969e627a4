"""Neutral spec -> FerryRoutes. Ferry takes the first rule that matches, so the
rules are written in the spec's precedence order: exact paths, then longer
prefixes, then the order written (Ferry's prefixes are whole segments already)."""

from __future__ import annotations

from typing import Any

from adapters.kit import CompileContext
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec import MtlsMode, Spec
from meshspec.spec.bundle import PathKey
from meshspec.spec.routes import Route, RouteMatch
from tests.adapters.skeleton import codes as C


def compile_ferry(spec: Spec) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    resources: list[dict[str, Any]] = []
    ctx = CompileContext(spec, "ferry")
    hint = "see what Ferry cannot do in its README"

    def lost(code: Code, key: str, path: PathKey, message: str) -> None:
        ctx.report(code, key, path, message, hint)

    if spec.mesh.mtls.mode is not MtlsMode.STRICT:
        ctx.diagnostics.append(
            C.MTLS_ALWAYS_ON("the mesh's mTLS mode stays STRICT", target="ferry")
        )
    for key, svc in spec.services.items():
        if svc.spec.authorization is not None:
            lost(C.NO_AUTHORIZATION, key, ("spec", "authorization"), "authorization left out")
        mtls = svc.spec.mtls
        if mtls is not None and {mtls.mode, *mtls.ports.values()} - {None, MtlsMode.STRICT}:
            lost(C.MTLS_ALWAYS_ON, key, ("spec", "mtls"), "the service's mTLS stays STRICT")
        if svc.spec.resilience is not None:
            lost(C.NOT_EXPRESSIBLE, key, ("spec", "resilience"), "resilience left out")
        rules: list[tuple[tuple[int, int], int, dict[str, Any]]] = []
        for i, route in enumerate(svc.spec.routes):
            # Ferry's timeout, retries and header handling are fixed
            settings = {
                "timeout": route.timeout,
                "retries": route.retries,
                "requestHeaders": route.request_headers,
            }
            for name in [n for n, value in settings.items() if value is not None]:
                lost(C.NOT_EXPRESSIBLE, key, ("spec", "routes", i, name), f"{name} left out")
            for j, match in enumerate(route.matches or (RouteMatch(),)):
                if match.method or match.headers or match.query_params or _regex(match):
                    path = ("spec", "routes", i, "matches", j)
                    lost(C.MATCH_DROPPED, key, path, "only the path of this match is kept")
                rules.append((_rank(match), len(rules), _rule(route, j, match, key, spec)))
        if rules:
            meta = {"name": svc.metadata.name, "namespace": svc.metadata.namespace}
            ordered = [rule for _, _, rule in sorted(rules, key=lambda r: (r[0], r[1]))]
            resources.append(
                {
                    "apiVersion": "ferry.example/v1",
                    "kind": "FerryRoute",
                    "metadata": meta,
                    "spec": {"rules": ordered},
                }
            )
    return resources, ctx.diagnostics


def _regex(match: RouteMatch) -> bool:
    return match.path is not None and match.path.regex is not None


def _rank(match: RouteMatch) -> tuple[int, int]:
    """Exact paths first, then the longest prefix (a regex or no path counts as `/`)."""
    path = match.path
    if path is not None and path.exact is not None:
        return (0, 0)
    prefix = path.prefix if path is not None and path.prefix is not None else "/"
    return (1, -len(prefix.rstrip("/")))


def _rule(route: Route, index: int, match: RouteMatch, key: str, spec: Spec) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": f"{route.name}/{index}"}
    path = match.path
    if path is not None and path.exact is not None:
        rule["exact"] = path.exact
    else:
        rule["prefix"] = path.prefix if path is not None and path.prefix is not None else "/"
    namespace = spec.service(key).metadata.namespace
    backends = route.backends or ()
    rule["to"] = [
        {
            "service": spec.resolve(b.service, namespace) if b.service else key,
            **({"version": b.version} if b.version else {}),
            "weight": b.weight,
        }
        for b in backends
    ] or [{"service": key, "weight": 1}]
    return rule

"""Compile a neutral `Spec` into Istio resources (networking.istio.io/v1, security.istio.io/v1).

The output is kubectl-ready and deterministic: objects in apply-safe kind
order (PeerAuthentication before DestinationRule before VirtualService, so a
route never names a subset that does not exist yet; AuthorizationPolicy last),
then by namespace and name. Each object carries `meshspec.io/source`.
"""

from __future__ import annotations

from adapters._k8s import sort_resources
from adapters.istio import codes
from adapters.istio._routes import virtual_services
from adapters.istio._security import authorization_policies, peer_authentications
from adapters.istio._traffic_policy import destination_rules
from adapters.istio.resources import KINDS, TARGET
from adapters.kit import CompileContext
from meshspec.adapter import CompileOptions, CompileResult
from meshspec.diagnostics import sorted_diagnostics
from meshspec.gcpause import cyclic_gc_paused
from meshspec.spec import Spec
from meshspec.spec.bundle import PathKey

#: the adapter's apply order
KIND_ORDER = tuple(k.kind for k in KINDS)


def compile_istio(spec: Spec, options: CompileOptions | None = None) -> CompileResult:
    """Istio resources for `spec`; the adapter settles `options.allow_lossy`."""
    ctx = CompileContext(spec, TARGET)
    with cyclic_gc_paused():  # the output is plain acyclic data: see meshspec.gcpause
        resources = [
            *peer_authentications(ctx),
            *destination_rules(ctx),
            *virtual_services(ctx),
            *authorization_policies(ctx),
        ]
    _note_path_normalization(ctx)
    return CompileResult(sort_resources(resources, KIND_ORDER), sorted_diagnostics(ctx.diagnostics))


def _note_path_normalization(ctx: CompileContext) -> None:
    """Routing and authz paths mean the neutral thing only with merged slashes.

    The spec normalises every path (dot segments, backslashes, merged slashes)
    and rejects fragments, encoded slashes and malformed escapes with 400.
    Istio's default (BASE) does not merge slashes, so `//admin` would slip past
    a DENY on `/admin` (CVE-2021-31920); that is a mesh-wide setting no resource
    here can carry. The three rejections no Istio setting gives; the note says
    so, since the adapter does not claim them. One note per compile, at the
    first path that depends on it.
    """
    path = _first_path(ctx)
    if path is None:
        return
    key, at = path
    ctx.report(
        codes.PATH_NORMALIZATION,
        key,
        at,
        "routing and authorization paths rely on normalised request paths: set "
        "meshConfig.pathNormalization.normalization to MERGE_SLASHES. Still different "
        "from the spec with any Istio setting: '#fragment' is stripped, not refused; "
        "%2F and %5C are forwarded encoded (decoded under DECODE_AND_MERGE_SLASHES), not "
        "refused; a malformed escape such as %zz is forwarded, not refused",
        "istioctl install --set meshConfig.pathNormalization.normalization=MERGE_SLASHES",
    )


def _first_path(ctx: CompileContext) -> tuple[str, PathKey] | None:
    for key, svc in ctx.spec.services.items():
        for ri, route in enumerate(svc.spec.routes):
            for mi, match in enumerate(route.matches):
                if match.path is not None:
                    return key, ("spec", "routes", ri, "matches", mi, "path")
        authz = svc.spec.authorization
        for i, rule in enumerate(authz.rules if authz else ()):
            if rule.to is not None and rule.to.paths:
                return key, ("spec", "authorization", "rules", i, "to", "paths")
    return None

"""Istio resources -> the neutral spec, keeping Istio's meaning wherever it can.

Istio resources name hosts, not Kubernetes Services: services come from
VirtualService/DestinationRule hosts, mesh HTTPRoute parents, policy selectors
(`app: <name>`) and Kubernetes Services; versions from DestinationRule subsets;
ports, target ports, service accounts and the trust domain from the platform's
objects in the input (`_import_platform`; a guess is said, and is an error when
authorization depends on it). Objects Istio's validation refuses are reported and
skipped. Istio defaults that differ from the neutral ones are written out (no
timeout, Istio's default retries, PERMISSIVE mTLS). Every loss names the object,
field and file:line; finally `_import_check` compares Istio's authorization and
mTLS over the input with the imported spec, so an import never widens silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.istio import import_codes as C
from adapters.istio import resources as R
from adapters.istio._import_check import check_import
from adapters.istio._import_context import ImportContext, ServiceDraft
from adapters.istio._import_gamma import (
    import_http_route,
    is_http_route,
    ordered,
    service_parents,
)
from adapters.istio._import_platform import (
    assign_workloads,
    check_trust_domains,
    read_identities,
    read_kubernetes_service,
)
from adapters.istio._import_routes import (
    default_route,
    import_virtual_service,
    report_unread,
)
from adapters.istio._import_security import (
    import_authorization_policy,
    import_peer_authentication,
    strictest,
)
from adapters.istio._import_traffic import check_client_tls, import_destination_rule
from adapters.istio._import_validate import problems
from adapters.istio._import_workloads import (
    is_platform,
    mesh_trust_domain,
    service_accounts,
)
from adapters.istio.resources import ROOT_NAMESPACE, TARGET
from adapters.kit.drafts import documents, mesh_document, to_spec
from adapters.kit.first_match import sample_of
from meshspec.adapter import ImportResult, NativeDocument
from meshspec.diagnostics import sorted_diagnostics
from meshspec.semantics import host_parts

IMPORTED = tuple(k.kind for k in R.KINDS)
#: Kubernetes' own namespaces: their Services (and `default/kubernetes`, the API
#: server) are not mesh services.
_SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


#: what may follow `name.ns` in a host that names a cluster Service
_SERVICE_SUFFIXES = frozenset({("svc",), ("svc", "cluster", "local")})


def host_to_key(host: str, namespace: str) -> str | None:
    """`name`, `name.ns`, `name.ns.svc[.cluster.local]` -> `ns/name`; else None."""
    h = host.strip().lower().rstrip(".")
    if not h or "*" in h:
        return None
    parts = host_parts(h, _SERVICE_SUFFIXES.__contains__)
    if parts is None:
        return None
    name, host_namespace = parts
    return f"{host_namespace or namespace}/{name}"


def import_istio(documents: Sequence[NativeDocument]) -> ImportResult:
    ctx = ImportContext()
    docs = _supported(ctx, documents)
    trust_domain = mesh_trust_domain(docs)
    ctx.trust_domain = trust_domain or ctx.trust_domain
    _inventory(ctx, docs)
    assign_workloads(ctx, docs)

    def resolve(host: str, namespace: str) -> str | None:
        key = host_to_key(host, namespace)
        return key if key in ctx.services else None

    _routes(ctx, docs, resolve)
    _gamma_routes(ctx, docs)
    seen_dr: set[str] = set()
    for doc in docs:
        if doc.kind == "DestinationRule":
            key = resolve(str((doc.data.get("spec") or {}).get("host", "")), doc.namespace)
            if key is None:
                continue
            if key in seen_dr:
                ctx.report(C.DUPLICATE_OBJECT, doc, ("spec", "host"), f"{key} already has one")
                continue
            seen_dr.add(key)
            _guarded(ctx, doc, import_destination_rule, ctx, doc, ctx.services[key])
    mesh_mode: str | None = None
    for doc in docs:
        if doc.kind == "PeerAuthentication":
            mode = _guarded(ctx, doc, import_peer_authentication, ctx, doc)
            if mode is not None and mesh_mode is None:
                mesh_mode = mode
    for doc in docs:
        if doc.kind == "AuthorizationPolicy":
            _guarded(ctx, doc, import_authorization_policy, ctx, doc)
    for svc in ctx.services.values():
        if svc.mtls_partial:
            # The neutral spec has one mode per service: the strictest any pod has.
            base = svc.mtls_workload or svc.mtls_namespace or mesh_mode or "PERMISSIVE"
            svc.mtls_workload = strictest(base, *svc.mtls_partial)
        check_client_tls(ctx, svc, mesh_mode or "PERMISSIVE")
    read_identities(ctx, service_accounts(docs))
    if trust_domain is None:
        check_trust_domains(ctx, docs)
    documents_out = _documents(ctx, mesh_mode)
    spec, found = to_spec(documents_out, "<imported from istio>")
    diagnostics = [*ctx.diagnostics, *found]
    if spec is not None:
        diagnostics.extend(check_import(ctx, docs, spec))
    return ImportResult(spec, sorted_diagnostics(diagnostics), documents_out)


def _guarded(ctx: ImportContext, doc: NativeDocument, read: Any, *args: Any) -> Any:
    """Values of a shape the validation does not cover are this object's error, never
    a crash of the whole import."""
    try:
        return read(*args)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        ctx.report(C.UNREADABLE, doc, (), f"cannot be read ({type(exc).__name__}: {exc})")
        return None


def _supported(ctx: ImportContext, documents: Sequence[NativeDocument]) -> list[NativeDocument]:
    out = []
    for doc in documents:
        if not isinstance(doc.data, Mapping) or not doc.kind:
            ctx.report(C.UNREADABLE, doc, (), "not a Kubernetes object (no kind)")
            continue
        group = str(doc.data.get("apiVersion", "")).split("/")[0]
        if is_platform(doc) or is_http_route(doc):
            out.append(doc)
        elif doc.kind in IMPORTED and group in R.GROUPS:
            found = problems(doc.kind, doc.data.get("spec") or {})
            for where, what in found:
                ctx.report(
                    C.INVALID_OBJECT,
                    doc,
                    where,
                    f"Istio would refuse this object: {what}; not imported",
                    hint="fix the value (the API server and istiod's validation reject it)",
                )
            if not found:
                out.append(doc)
        elif doc.kind == "RequestAuthentication" and group in R.GROUPS:
            # istio.io docs/reference/config/security/request_authentication: a request
            # with an invalid token is rejected (401) even when no policy requires one.
            spec = doc.data.get("spec") or {}
            if isinstance(spec, Mapping) and spec.get("jwtRules"):
                ctx.report(
                    C.AUTHZ_WIDENED,
                    doc,
                    ("spec", "jwtRules"),
                    "Istio rejects requests whose JWT fails these rules with 401; the "
                    "neutral spec has no JWT validation, so the import lets them through",
                    hint="keep JWT validation in front of the mesh, or pass "
                    "--allow-lossy authz to import without it",
                    example={
                        "method": "GET",
                        "target": "/",
                        "headers": {"authorization": "Bearer not-a-valid-token"},
                    },
                )
        else:
            ctx.report(
                C.KIND_SKIPPED,
                doc,
                ("kind",),
                f"{doc.kind} ({doc.data.get('apiVersion')}) is not imported",
                hint="only VirtualService, DestinationRule, PeerAuthentication, "
                "AuthorizationPolicy, mesh HTTPRoutes, and the Services, ServiceAccounts "
                "and workloads of Kubernetes are read",
            )
    return out


def _mesh_bound(doc: NativeDocument) -> bool:
    gateways = (doc.data.get("spec") or {}).get("gateways")
    return not gateways or "mesh" in gateways


def _inventory(ctx: ImportContext, docs: list[NativeDocument]) -> None:
    for doc in docs:
        spec = doc.data.get("spec") or {}
        if doc.kind == "Service" and is_platform(doc):
            if doc.namespace not in _SYSTEM_NAMESPACES and doc.name != "kubernetes":
                _guarded(ctx, doc, read_kubernetes_service, ctx, doc)
        elif is_platform(doc):
            continue
        elif is_http_route(doc):
            _gamma_inventory(ctx, doc)
        elif doc.kind == "VirtualService":
            if not _mesh_bound(doc):
                continue
            report_unread(ctx, doc, ("spec",), spec, R.VIRTUAL_SERVICE_SPEC)
            _virtual_service_scope(ctx, doc)
            for i, host in enumerate(spec.get("hosts") or []):
                key = host_to_key(str(host), doc.namespace)
                if key is None:
                    ctx.report(
                        C.HOST_NOT_SERVICE,
                        doc,
                        ("spec", "hosts", i),
                        f"host {host!r} is not a cluster service; its rules are not imported",
                    )
                    continue
                ctx.service(*key.split("/"))
            for rule in spec.get("http") or []:
                for dest in (rule or {}).get("route") or []:
                    host = str(((dest or {}).get("destination") or {}).get("host", ""))
                    key = host_to_key(host, doc.namespace)
                    if key is not None:
                        ctx.service(*key.split("/"))
            for proto in ("tcp", "tls"):
                if spec.get(proto):
                    ctx.report(
                        C.FIELD_DROPPED, doc, ("spec", proto), f"`{proto}` routes are not kept"
                    )
        elif doc.kind == "DestinationRule":
            key = host_to_key(str(spec.get("host", "")), doc.namespace)
            if key is None:
                ctx.report(
                    C.HOST_NOT_SERVICE,
                    doc,
                    ("spec", "host"),
                    f"host {spec.get('host')!r} is not a cluster service; not imported",
                )
            else:
                ctx.service(*key.split("/"))
        elif doc.namespace != ROOT_NAMESPACE:
            labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
            if "app" in labels:
                ctx.service(doc.namespace, str(labels["app"]))


def _virtual_service_scope(ctx: ImportContext, doc: NativeDocument) -> None:
    """Who a VirtualService applies to beyond the mesh's sidecars: the neutral routes
    are for sidecars only, in every namespace."""
    spec = doc.data.get("spec") or {}
    gateways = [str(g) for g in spec.get("gateways") or [] if str(g) != "mesh"]
    if gateways:
        ctx.report(
            C.GATEWAY_BINDING,
            doc,
            ("spec", "gateways"),
            f"the rules also apply at gateway(s) {', '.join(gateways)}; only the mesh "
            "(sidecar) routing is imported",
        )
    if spec.get("exportTo") is not None:
        ctx.report(
            C.FIELD_DROPPED,
            doc,
            ("spec", "exportTo"),
            f"exportTo {spec['exportTo']} limits which namespaces see these routes; the "
            "neutral routes apply to clients in every namespace",
        )


def _gamma_inventory(ctx: ImportContext, doc: NativeDocument) -> None:
    parents = service_parents(doc)
    if not parents:
        ctx.report(
            C.GATEWAY_ONLY,
            doc,
            ("spec", "parentRefs"),
            "no Service parent: ingress routing (Gateway parents) is not imported",
        )
        return
    for _, ns, name, _ in parents:
        ctx.service(ns, name)
    for rule in (doc.data.get("spec") or {}).get("rules") or []:
        for ref in (rule or {}).get("backendRefs") or []:
            if isinstance(ref, Mapping) and ref.get("kind", "Service") == "Service":
                ctx.service(str(ref.get("namespace") or doc.namespace), str(ref.get("name")))


def _gamma_routes(ctx: ImportContext, docs: list[NativeDocument]) -> None:
    """Mesh HTTPRoutes, for services no VirtualService already routes (Istio uses one
    or the other; a service with both is reported)."""
    claimed: dict[str, NativeDocument] = {}
    for doc in ordered(docs):
        for i, ns, name, ref in service_parents(doc):
            svc = ctx.services[f"{ns}/{name}"]
            if svc.routes is not None and svc.key not in claimed:
                ctx.report(
                    C.DUPLICATE_OBJECT,
                    doc,
                    ("spec", "parentRefs", i),
                    f"{svc.key} already has a VirtualService; this HTTPRoute is not imported",
                )
                continue
            claimed[svc.key] = doc
            routes = _guarded(ctx, doc, import_http_route, ctx, doc, svc, ref) or []
            svc.routes = [*(svc.routes or []), *routes]


def _routes(ctx: ImportContext, docs: list[NativeDocument], resolve: Any) -> None:
    for doc in docs:
        if doc.kind != "VirtualService":
            continue
        if not _mesh_bound(doc):
            ctx.report(
                C.GATEWAY_ONLY,
                doc,
                ("spec", "gateways"),
                "bound to gateways only (no `mesh`): ingress routing is not imported",
            )
            continue
        for i, host in enumerate((doc.data.get("spec") or {}).get("hosts") or []):
            key = resolve(str(host), doc.namespace)
            if key is None:
                continue
            svc = ctx.services[key]
            if svc.routes is not None:
                ctx.report(
                    C.DUPLICATE_OBJECT,
                    doc,
                    ("spec", "hosts", i),
                    f"{key} already has a VirtualService; sidecars use only one",
                )
                continue
            svc.routes = import_virtual_service(ctx, doc, svc, resolve)


def _documents(ctx: ImportContext, mesh_mode: str | None) -> list[dict[str, Any]]:
    if not ctx.services:
        return []
    explicit: list[str] = []
    mesh = mesh_document(mesh_mode or "PERMISSIVE", ctx.trust_domain)
    if mesh_mode is None:
        explicit.append("mesh mTLS PERMISSIVE (no mesh-wide PeerAuthentication)")
    inferred_ports = []
    for key in sorted(ctx.services):
        svc = ctx.services[key]
        if not svc.ports:
            svc.ports[80] = "http"
            inferred_ports.append(key)
        if svc.routes is None:
            svc.routes = [default_route(svc)]
            ctx.default_retries_written = True
            explicit.append(f"{key}: Istio's default route (no timeout, 2 retries)")
    for key in sorted(ctx.services):
        ctx.services[key].routes = _drop_missing_versions(ctx, ctx.services[key])
    out = documents(mesh, ctx.services.values())
    if inferred_ports:
        ctx.diagnostics.append(
            C.PORT_INFERRED(
                "Istio resources do not declare service ports; assumed 80/http for "
                + ", ".join(inferred_ports),
                target=TARGET,
                hint="edit the ports in the imported spec to match the Kubernetes Services",
            )
        )
    if ctx.default_retries_written:
        ctx.diagnostics.append(
            C.RETRY_CONDITION(
                "Istio's default retry policy (retryOn "
                f"{R.DEFAULT_RETRY_ON}) also retries on `unavailable` and `cancelled`, gRPC "
                "statuses the neutral spec has no name for; the imported retries keep "
                "connect-failure and refused-stream (503 is not retried by default: "
                "EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY)",
                target=TARGET,
                hint="write `retries` on the Istio rules to choose the conditions explicitly",
            )
        )
    if explicit:
        ctx.diagnostics.append(
            C.DEFAULT_MADE_EXPLICIT(
                "Istio defaults written explicitly: " + "; ".join(explicit), target=TARGET
            )
        )
    return out


def _drop_missing_versions(ctx: ImportContext, svc: ServiceDraft) -> list[dict[str, Any]]:
    """A subset no DestinationRule defines has no endpoints: Istio answers 503
    (istio/istio `pilot/pkg/networking/core/cluster.go` builds no cluster for it). The
    neutral spec cannot say "fail", and dropping the backend would send the traffic
    to every endpoint instead: an error, with the version kept so the split stays
    visible (its labels are the default `version: <name>`, assumed)."""
    routes = []
    for route in svc.routes or []:
        route = dict(route)
        kept = []
        for backend in route.get("backends") or []:
            backend = dict(backend)
            where = backend.pop("_origin", None)
            target = ctx.services.get(backend.get("service", svc.key))
            version = backend.get("version")
            if version is not None and target is not None and version not in target.versions:
                if where is not None:
                    ctx.report(
                        C.SUBSET_UNDEFINED,
                        where[0],
                        where[1],
                        f"subset {version!r} of {target.key} is defined by no DestinationRule "
                        "in the input: Istio answers 503 for the requests this route sends "
                        "there, which the neutral spec cannot express",
                        hint="add the DestinationRule that defines the subset (with its labels)",
                        example=_route_sample(route),
                    )
                target.versions[version] = {}
            kept.append(backend)
        if "backends" in route:
            if kept:
                route["backends"] = kept
            else:
                del route["backends"]
        routes.append(route)
    return routes


def _route_sample(route: Mapping[str, Any]) -> dict[str, Any]:
    """A request the route takes (the first match's sample)."""
    return sample_of((route.get("matches") or [{}])[0])

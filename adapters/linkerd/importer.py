"""Linkerd resources -> neutral spec (`--from linkerd`).

Reads, through allow-lists: Kubernetes Services (ports, per-version Services, retry,
timeout and failure-accrual annotations), outbound HTTPRoutes with Service parents in
both API groups (`gateway.networking.k8s.io`, and `policy.linkerd.io` v1alpha1 to
v1beta3), ServiceProfiles, and the inbound policy (`_import_policy.py`). What the
spec reads differently is reported with a request that behaves differently; an
authorization that would admit more than Linkerd does is never produced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters import _gamma as G
from adapters import _gamma_import as GI
from adapters._k8s import duration
from adapters.kit import DEFAULT_TRUST_DOMAIN, mesh_document, to_spec
from adapters.linkerd import _import_policy as P
from adapters.linkerd import codes as C
from adapters.linkerd import resources as R
from adapters.linkerd._import_profiles import import_profile
from adapters.linkerd._routes import candidates, intersection, linkerd_rank, sample_request
from meshspec.adapter import ImportResult, NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.semantics.matching import route_match_holds
from meshspec.semantics.paths import NormalizedTarget
from meshspec.spec import RetryOn, Route

TARGET = "linkerd"
CODES = GI.Codes(
    field_dropped=C.FIELD_DROPPED,
    parent_skipped=C.PARENT_SKIPPED,
    unknown_backend=C.UNKNOWN_BACKEND,
    consumer_route=C.CONSUMER_ROUTE,
    filter_dropped=C.FILTER_DROPPED,
    timeout_unset=C.TIMEOUT_UNSET,
    # Linkerd enforces no timeout unless one is set (linkerd.io reference/timeouts)
    unset_timeout="0s",
)
READ_KINDS = {
    ("v1", "Service"),
    *((v, "HTTPRoute") for v in GI.ROUTE_API_VERSIONS),
    *(
        (f"{R.POLICY_GROUP}/{v}", "HTTPRoute")
        for v in ("v1alpha1", "v1beta1", "v1beta2", "v1beta3")
    ),
    *((f"{R.POLICY_GROUP}/{v}", "Server") for v in ("v1alpha1", "v1beta1", "v1beta2", "v1beta3")),
    (R.AUTHN_API, "AuthorizationPolicy"),
    (R.AUTHN_API, "MeshTLSAuthentication"),
    (R.AUTHN_API, "NetworkAuthentication"),
    (R.SERVER_AUTHZ_API, "ServerAuthorization"),
    (f"{R.POLICY_GROUP}/v1alpha1", "ServerAuthorization"),
    (R.PROFILE_API, "ServiceProfile"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("linkerd.io/v1alpha1", "ServiceProfile"),
}


def import_linkerd(documents: Sequence[NativeDocument]) -> ImportResult:
    diagnostics: list[Diagnostic] = []
    known = []
    for doc in documents:
        if (str(doc.data.get("apiVersion", "")), doc.kind) in READ_KINDS:
            known.append(doc)
        else:
            diagnostics.append(
                C.KIND_SKIPPED(
                    f"{doc.data.get('apiVersion')} {doc.kind} {doc.name} skipped",
                    location=doc.origin.locate(()),
                )
            )
    drafts = GI.Drafts()
    names = GI.read_services(known, drafts)
    GI.read_accounts(known, drafts)
    service_notes = _service_annotations(known, names, drafts, diagnostics)
    trust_domains: set[str] = set()

    outbound = sorted(
        (d for d in known if d.kind == "HTTPRoute" and _has_service_parent(d)),
        key=lambda d: (d.namespace, d.name),
    )
    for doc in outbound:
        route = G.parse_route(doc.data)
        notes = route.annotations

        def on_rule(
            draft: GI.Draft,
            out: dict[str, Any],
            rule: G.Rule,
            index: int,
            doc: NativeDocument = doc,
            notes: Mapping[str, str] = notes,
            diagnostics: list[Diagnostic] = diagnostics,
        ) -> None:
            _route_policy(draft, out, notes, service_notes.get(draft.key, {}), doc, diagnostics)

        diagnostics += GI.import_route(doc, drafts, names, CODES, TARGET, on_rule)
    for draft in drafts.values():
        draft.routes = _merge_routes(draft.routes)
        _service_defaults(draft, service_notes.get(draft.key, {}))
        _check_precedence(draft, diagnostics)

    for doc in known:
        if doc.kind == "ServiceProfile":
            import_profile(doc, drafts, diagnostics)

    index = P.index_policy(known)
    P.server_authorizations(known, index, diagnostics)
    for _, authn in index.meshtls.items():
        for ident in authn.identities:
            parsed = R.parse_identity(ident)
            if parsed is not None:
                trust_domains.add(parsed[2])
    trust_domain = sorted(trust_domains)[0] if len(trust_domains) == 1 else "cluster.local"
    used: set[tuple[str, str]] = set()
    for key, draft in drafts.items():
        found = _server_of(draft, index)
        if found is None:
            draft.extra.setdefault("mtls", {"mode": "PERMISSIVE"})
            _other_ports(draft, None, index, trust_domain, used, diagnostics)
            continue
        server, sdoc = found
        used.add((server.namespace, server.name))
        if draft.ports and not _serves_first_port(draft, server):
            diagnostics.append(
                C.AUTHZ_WIDENS(
                    f"Server {server.name} selects {draft.key}'s pods on port {server.port}, "
                    "which names none of its Service's ports; imported as denying everything",
                    location=sdoc.origin.locate(("spec", "port")),
                    target=TARGET,
                )
            )
            draft.extra["authorization"] = {"default": "deny"}
            draft.extra["mtls"] = {"mode": "STRICT"}
            continue
        P.import_authorization(draft, index, server, sdoc, trust_domain, diagnostics)
        _other_ports(draft, server, index, trust_domain, used, diagnostics)
        del key
    for server, sdoc in index.servers:
        if (server.namespace, server.name) not in used:
            diagnostics.append(
                C.POLICY_UNUSED(
                    f"Server {server.namespace}/{server.name}: no imported Service selects its "
                    "pods (import their Services too); its policy is left out",
                    location=sdoc.origin.locate(()),
                    target=TARGET,
                )
            )
    _unused_policies(index, used, diagnostics)
    return _finish(drafts, trust_domain, diagnostics)


def _unused_policies(
    index: P.PolicyIndex, used: set[tuple[str, str]], diagnostics: list[Diagnostic]
) -> None:
    """AuthorizationPolicies (and ServerAuthorizations) that reach no imported service."""
    routes = {
        (route.namespace, route.name): {(route.namespace, p.name) for p in route.parents}
        for route, _ in index.routes
    }
    for policy, pdoc in index.policies:
        t = policy.target
        if t.kind == "Server":
            reached = (t.namespace, t.name) in used
        elif t.kind == "HTTPRoute":
            reached = bool(routes.get((t.namespace, t.name), set()) & used)
        elif t.kind == "Namespace":
            reached = any(ns == t.name for ns, _ in used)
        else:
            reached = False
        if not reached:
            diagnostics.append(
                C.POLICY_UNUSED(
                    f"{pdoc.kind} {policy.namespace}/{policy.name} targets {t.kind} {t.name}, "
                    "which no imported Service's Server reaches; left out",
                    location=pdoc.origin.locate(("spec",)),
                    target=TARGET,
                )
            )


def _has_service_parent(doc: NativeDocument) -> bool:
    refs = (doc.data.get("spec") or {}).get("parentRefs") or []
    return any(
        isinstance(r, Mapping) and r.get("kind", "Gateway") == "Service" for r in refs
    ) or not any(isinstance(r, Mapping) and r.get("kind") == "Server" for r in refs)


def _service_annotations(
    documents: Sequence[NativeDocument],
    names: Mapping[tuple[str, str], tuple[str, str | None]],
    drafts: GI.Drafts,
    diagnostics: list[Diagnostic],
) -> dict[str, dict[str, str]]:
    """Service-level annotations per service key (retries, timeouts), and failure accrual
    as resilience (per version for a version's Service)."""
    out: dict[str, dict[str, str]] = {}
    for doc in documents:
        if (doc.data.get("apiVersion"), doc.kind) != ("v1", "Service"):
            continue
        notes = R.annotations_of(doc.data)
        for name in P.annotations_known(notes):
            diagnostics.append(
                C.ANNOTATION_DROPPED(
                    f"annotation {name} dropped",
                    location=doc.origin.locate(("metadata", "annotations", name)),
                    target=TARGET,
                )
            )
        key, version = names.get((doc.namespace, doc.name), (f"{doc.namespace}/{doc.name}", None))
        if version is None:
            out[key] = notes
        accrual = R.FailureAccrual.parse(notes)
        if accrual is None or key not in drafts:
            continue
        resilience = {
            "outlierDetection": {
                "consecutive5xxErrors": accrual.max_failures,
                "baseEjectionTime": duration(accrual.min_penalty),
                "maxEjectionPercent": 100,
            }
        }
        draft = drafts[key]
        if version is None:
            draft.extra["resilience"] = resilience
        else:
            draft.extra.setdefault("_version_resilience", {})[version] = resilience
    return out


def _route_policy(
    draft: GI.Draft,
    out: dict[str, Any],
    route_notes: Mapping[str, str],
    service_notes: Mapping[str, str],
    doc: NativeDocument,
    diagnostics: list[Diagnostic],
) -> None:
    """Retry and timeout annotations of the route (else of its Service) on a neutral route."""
    where = doc.origin.locate(("metadata", "annotations"))
    try:
        retries = R.RetryConfig.parse(route_notes)
        if retries is None and not _has_retry(route_notes):
            retries = R.RetryConfig.parse(service_notes)
        timeouts = R.TimeoutConfig.parse(route_notes)
        svc_timeouts = R.TimeoutConfig.parse(service_notes) if timeouts is None else None
    except ValueError as exc:
        diagnostics.append(
            C.ANNOTATION_DROPPED(
                f"annotation value not understood: {exc}", location=where, target=TARGET
            )
        )
        return
    if retries is not None and retries.limit:
        if not retries.limit_given:
            diagnostics.append(
                C.RETRY_DEFAULT_LIMIT(
                    "retries once (no retry.linkerd.io/limit)", location=where, target=TARGET
                )
            )
        out["retries"] = _retries(retries)
    for name, value in (
        (R.TIMEOUT_RESPONSE, None if timeouts is None else timeouts.response),
        (R.TIMEOUT_IDLE, None if timeouts is None else timeouts.idle),
    ):
        if value is not None:
            diagnostics.append(
                C.ANNOTATION_DROPPED(
                    f"{name}: the spec has only the whole request's timeout; dropped",
                    location=where,
                    target=TARGET,
                )
            )
    if timeouts is not None and timeouts.request is not None:
        out["timeout"] = duration(timeouts.request)
    elif "timeout" not in out and svc_timeouts is not None and svc_timeouts.request is not None:
        out["timeout"] = duration(svc_timeouts.request)
    del draft  # the route's service: its annotations come in `service_notes`


def _has_retry(notes: Mapping[str, str]) -> bool:
    return any(k.startswith("retry.linkerd.io/") for k in notes)


def _retries(config: R.RetryConfig) -> dict[str, Any]:
    retry_on = [str(RetryOn.REFUSED_STREAM)]
    codes: list[int] = []
    for lo, hi in config.statuses:
        if (lo, hi) == (500, 599):
            retry_on.append(str(RetryOn.SERVER_ERROR))
        elif (lo, hi) == (502, 504):
            retry_on.append(str(RetryOn.GATEWAY_ERROR))
        else:
            codes += [c for c in range(lo, hi + 1) if 400 <= c <= 599]
    out: dict[str, Any] = {"attempts": min(config.limit, 10), "retryOn": retry_on}
    if config.timeout is not None:
        out["perTryTimeout"] = duration(config.timeout)
    if codes:
        out["statusCodes"] = sorted(set(codes))
    return out


def _merge_routes(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules the compiler split out of one neutral route (one per match, intersections
    added for Linkerd's ranking) back into one route; same names that differ stay apart."""
    out: list[dict[str, Any]] = []
    by_name: dict[str, dict[str, Any]] = {}
    for r in routes:
        same = by_name.get(r["name"])
        body = {k: v for k, v in r.items() if k not in ("name", "matches")}
        if (
            same is not None
            and {k: v for k, v in same.items() if k not in ("name", "matches")} == body
        ):
            if "matches" in same and "matches" in r:
                for m in r["matches"]:
                    if m not in same["matches"]:
                        same["matches"].append(m)
            else:
                same.pop("matches", None)
            continue
        if same is not None:
            r = {**r, "name": _free(r["name"], by_name)}
        by_name[r["name"]] = r
        out.append(r)
    return out


def _free(name: str, taken: Mapping[str, Any]) -> str:
    n = 2
    while f"{name[:55]}-{n}" in taken:
        n += 1
    return f"{name[:55]}-{n}"


def _service_defaults(draft: GI.Draft, notes: Mapping[str, str]) -> None:
    """A service without HTTPRoutes: Linkerd sends to every endpoint with no timeout
    (unless its Service's annotations set one) and its Service's retries, so one catch-all
    route says so (the spec's default would be 15s)."""
    if draft.routes or draft.routed_ports:
        return
    try:
        retries = R.RetryConfig.parse(notes)
        timeouts = R.TimeoutConfig.parse(notes)
    except ValueError:
        return
    route: dict[str, Any] = {"name": "default"}
    if retries is not None and retries.limit:
        route["retries"] = _retries(retries)
    route["timeout"] = duration(timeouts.request) if timeouts and timeouts.request else "0s"
    draft.routes.append(route)


def _check_precedence(draft: GI.Draft, diagnostics: list[Diagnostic]) -> None:
    """Where Linkerd's proxy takes another route than the neutral spec's precedence, with a
    request that shows it: for every two rules a request can meet together, that request
    is decided both ways (Linkerd: the longest path, then header, query and method counts,
    ties to the earlier rule; the spec: the most specific match)."""
    if len(draft.routes) < 2:
        return
    try:
        routes = tuple(Route.model_validate(r) for r in draft.routes)
    except ValueError:
        return
    order = candidates(routes)
    native = sorted(order, key=lambda c: (c.route_index, c.origin))
    seen: set[tuple[str, str, str]] = set()
    for i, a in enumerate(native):
        for b in native[i + 1 :]:
            both = intersection(a.match, b.match)
            if both is None:
                continue
            request = sample_request(both)
            if request is None:
                continue
            path, method, headers = request
            held = [c for c in native if _holds_request(c, path, method, headers)]
            if not held:
                continue
            linkerd = max(held, key=lambda c: (linkerd_rank(c.match, path), -native.index(c)))
            spec = next(c for c in order if c in held)
            if linkerd.route.name == spec.route.name:
                continue
            key = (path, linkerd.route.name, spec.route.name)
            if key in seen:
                continue
            seen.add(key)
            diagnostics.append(
                C.IMPORT_PRECEDENCE(
                    f"{draft.key}: {method} {path}"
                    + "".join(f" with {k}: {v}" for k, v in headers.items())
                    + f" takes '{linkerd.route.name}' in Linkerd, '{spec.route.name}' in the "
                    "neutral spec (most specific match)",
                    target=TARGET,
                )
            )


def _holds_request(c: Any, path: str, method: str, headers: Mapping[str, str]) -> bool:
    if c.match is None:
        return True
    return route_match_holds(c.match, method, NormalizedTarget(path), headers)


def _server_of(draft: GI.Draft, index: P.PolicyIndex) -> tuple[R.Server, NativeDocument] | None:
    """The Server of the service's first HTTP port; when the import names no port, any
    Server selecting the service's pods (never none when one exists: its absence would
    read as Linkerd's allow-all default)."""
    ports = sorted(draft.ports.values(), key=lambda p: p["port"])
    http = [p for p in ports if p.get("protocol", "http") != "tcp"] or ports
    labels = {"app": draft.name}
    pods = [labels, *({**labels, **v} for v in draft.versions.values())]
    mine = [
        (server, doc)
        for server, doc in index.servers
        if server.namespace == draft.namespace
        and not server.match_expressions
        and any(all(p.get(k) == v for k, v in server.match_labels.items()) for p in pods)
    ]
    if http:
        wanted = {int(http[0].get("targetPort", http[0]["port"])), http[0].get("name")}
        for server, doc in mine:
            if server.port in wanted:
                return server, doc
        return None
    return mine[0] if mine else None


def _other_ports(
    draft: GI.Draft,
    first: R.Server | None,
    index: P.PolicyIndex,
    trust_domain: str,
    used: set[tuple[str, str]],
    diagnostics: list[Diagnostic],
) -> None:
    """The Servers of the service's other ports: their mTLS as per-port modes. The spec has
    one authorization per service: the one of a port admitting plaintext clients (on a
    STRICT port they are refused anyway), which must decide every port as its Server
    does, else an error (the service's would apply there)."""
    base_mode = draft.extra.get("mtls", {}).get("mode", "PERMISSIVE")
    ports: list[tuple[str, Any, R.Server | None, NativeDocument | None]] = []
    primary = first.port if first is not None else _first_port_key(draft)
    for port in sorted(draft.ports.values(), key=lambda p: p["port"]):
        names = (int(port.get("targetPort", port["port"])), port.get("name"))
        if primary in names:
            continue
        served = False
        for server, sdoc in index.servers:
            if server is first or server.namespace != draft.namespace or server.port not in names:
                continue
            if server.match_labels.get("app") != draft.name:
                continue
            used.add((server.namespace, server.name))
            scratch = GI.Draft(draft.namespace, draft.name)
            P.import_authorization(scratch, index, server, sdoc, trust_domain, [])
            mode = scratch.extra.get("mtls", {}).get("mode", "PERMISSIVE")
            if mode != base_mode:
                draft.extra.setdefault("mtls", {}).setdefault("ports", {})[port["port"]] = mode
            ports.append((mode, scratch.extra.get("authorization"), server, sdoc))
            served = True
        if not served:  # Linkerd's default inbound policy: every client (PERMISSIVE)
            if base_mode != "PERMISSIVE":
                draft.extra.setdefault("mtls", {}).setdefault("ports", {})[port["port"]] = (
                    "PERMISSIVE"
                )
            ports.append(("PERMISSIVE", None, None, None))
    if not ports:
        return
    everyone = [(base_mode, draft.extra.get("authorization"), first, None), *ports]
    # a port without a Server has no policy to offer: the service's comes from a Server
    with_server = [e for e in everyone if e[2] is not None]
    permissive = [e for e in with_server if e[0] == "PERMISSIVE"]
    chosen = (permissive or with_server or everyone)[0][1]
    if chosen is None:
        draft.extra.pop("authorization", None)
    else:
        draft.extra["authorization"] = chosen
    for mode, authz, on, doc in everyone:
        strict = mode == "STRICT"
        if _unnamed(authz, strict) == _unnamed(chosen, strict):
            continue
        if authz is None:  # Linkerd admits everyone there; the import denies more
            diagnostics.append(
                C.PORT_NARROWED(
                    f"a port of {draft.key} without a Server admits every client in Linkerd; "
                    "the service's one authorization applies there in the import",
                    target=TARGET,
                )
            )
            continue
        what = f"Server {on.name} (port {on.port})" if on is not None else "a port"
        diagnostics.append(
            C.AUTHZ_WIDENS(
                f"{what} admits other clients than another port of {draft.key}; the spec has "
                "one authorization per service",
                location=None if doc is None else doc.origin.locate(()),
                target=TARGET,
            )
        )


def _first_port_key(draft: GI.Draft) -> int | None:
    ports = sorted(draft.ports.values(), key=lambda p: p["port"])
    http = [p for p in ports if p.get("protocol", "http") != "tcp"] or ports
    return int(http[0].get("targetPort", http[0]["port"])) if http else None


def _unnamed(authorization: Any, strict: bool) -> Any:
    """An authorization's decisions on a port, whatever its rules are called: on a STRICT
    port a rule for any client is one for authenticated clients, and plaintext sources
    never match."""
    if not isinstance(authorization, Mapping):
        return {"default": "allow", "rules": []}
    rules: list[dict[str, Any]] = []
    for r in authorization.get("rules", []):
        rule = {k: v for k, v in r.items() if k != "name"}
        if strict:
            sources = [s for s in rule.get("from", []) if not s.get("unauthenticated")]
            if "from" in rule and not sources:
                continue
            rule["from"] = sources or [{"authenticated": True}]
        if rule not in rules:
            rules.append(rule)
    return {"default": authorization.get("default", "allow"), "rules": rules}


def _serves_first_port(draft: GI.Draft, server: R.Server) -> bool:
    return any(
        server.port in (int(p.get("targetPort", p["port"])), p.get("name"))
        for p in draft.ports.values()
    )


def _finish(drafts: GI.Drafts, trust_domain: str, diagnostics: list[Diagnostic]) -> ImportResult:
    documents: list[dict[str, Any]] = []
    if trust_domain != DEFAULT_TRUST_DOMAIN:
        documents.append(mesh_document("STRICT", trust_domain))
    for key in sorted(drafts):
        draft = drafts[key]
        per_version = draft.extra.pop("_version_resilience", {})
        doc = draft.document()
        for v in doc["spec"].get("versions", []):
            if v["name"] in per_version:
                v["resilience"] = per_version[v["name"]]
        documents.append(doc)
    spec, findings = to_spec(documents, "<imported from linkerd>")
    diagnostics += findings
    if spec is None and documents:
        diagnostics.append(C.INVALID_IMPORT("the imported services are not valid", target=TARGET))
    return ImportResult(spec, diagnostics, documents)

"""Linkerd's inbound policy -> neutral authorization and mTLS, never wider than Linkerd.

Per service, the `Server` of its first HTTP port (the neutral spec has one
authorization per service; other ports' Servers that differ are reported) is read as:
* no Server: Linkerd's default policy (`all-unauthenticated`): no authorization, and
  PERMISSIVE mTLS;
* `accessPolicy` -> the default (`deny`) or a rule for what it admits
  (`all-authenticated` -> an ALLOW rule for authenticated peers; plaintext-admitting
  values -> the default `allow`);
* each AuthorizationPolicy -> ALLOW rules: its authentications ANDed (a
  NetworkAuthentication of every address holds for everyone; one for some networks
  cannot be written in the spec, so the policy is dropped, which only narrows);
  on an inbound route, one rule per match of the route (`to`);
* a more specific inbound route takes its requests away from a less specific one
  (one route per request): those requests get a DENY for the peers the less specific
  route admits and the more specific one does not; where that cannot be written
  exactly, the peers are denied there (narrower, reported);
* a Server with inbound routes answers 404 to requests no route matches: policies on the
  Server then apply through the routes only;
* STRICT when nothing admits plaintext clients, else PERMISSIVE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters import _gamma as G
from adapters._gamma_import import Draft
from adapters.linkerd import codes as C
from adapters.linkerd import resources as R
from adapters.linkerd._policy import RULE_ANNOTATION
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic

PLAINTEXT_POLICIES = ("all-unauthenticated", "audit", "cluster-unauthenticated")
AUTHENTICATED_POLICIES = ("all-authenticated", "cluster-authenticated")
EVERYONE = "everyone"


@dataclass
class PolicyIndex:
    servers: list[tuple[R.Server, NativeDocument]] = field(default_factory=list)
    policies: list[tuple[R.AuthorizationPolicy, NativeDocument]] = field(default_factory=list)
    meshtls: dict[tuple[str, str], R.MeshTLSAuthentication] = field(default_factory=dict)
    networks: dict[tuple[str, str], R.NetworkAuthentication] = field(default_factory=dict)
    routes: list[tuple[G.HttpRoute, NativeDocument]] = field(default_factory=list)


def spiffe_of(identity: str) -> str | None:
    parsed = R.parse_identity(identity)
    if parsed is None:
        return None
    sa, ns, td = parsed
    return f"spiffe://{td}/ns/{ns}/sa/{sa}"


def _sources(
    index: PolicyIndex, policy: R.AuthorizationPolicy, trust_domain: str
) -> tuple[list[dict[str, Any]] | None, str]:
    """The neutral `from` of a policy (ANDed authentications), or None with why not."""
    sets: list[list[dict[str, Any]] | str] = []
    for ref in policy.required:
        if ref.kind == "NetworkAuthentication":
            net = index.networks.get((ref.namespace, ref.name))
            if net is None:
                return None, f"NetworkAuthentication {ref.name} not found"
            if not net.everywhere:
                return None, f"NetworkAuthentication {ref.name} admits some networks only"
            sets.append(EVERYONE)
        elif ref.kind == "MeshTLSAuthentication":
            authn = index.meshtls.get((ref.namespace, ref.name))
            if authn is None:
                return None, f"MeshTLSAuthentication {ref.name} not found"
            found = _meshtls_sources(authn, trust_domain)
            if found is None:
                return None, f"MeshTLSAuthentication {ref.name} has identities the spec cannot name"
            sets.append(found)
        elif ref.kind == "ServiceAccount":
            sets.append(
                [{"identities": [f"spiffe://{trust_domain}/ns/{ref.namespace}/sa/{ref.name}"]}]
            )
        else:
            return None, f"authentication kind {ref.kind} not read"
    narrowing = [s for s in sets if s != EVERYONE]
    if not sets:
        return None, "a policy without authentications admits nobody"
    if not narrowing:
        return [], ""
    if len(narrowing) > 1:
        return None, "several identity authentications ANDed"
    first = narrowing[0]
    assert not isinstance(first, str)
    return first, ""


def _meshtls_sources(authn: R.MeshTLSAuthentication, td: str) -> list[dict[str, Any]] | None:
    identities: list[str] = []
    namespaces: list[str] = []
    out: list[dict[str, Any]] = []
    for ident in authn.identities:
        if ident == "*":
            return [{"authenticated": True}]
        if ident.startswith("*."):
            rest = ident[2:]
            marker = f".serviceaccount.identity.{R.CONTROL_PLANE_NS}.{td}"
            if rest.endswith(marker) and "." not in rest[: -len(marker)]:
                namespaces.append(rest[: -len(marker)])
                continue
            return None
        spiffe = ident if ident.startswith("spiffe://") else spiffe_of(ident)
        if spiffe is None:
            return None
        identities.append(spiffe)
    for kind, name, ns in authn.identity_refs:
        if kind == "ServiceAccount" and name is not None:
            identities.append(f"spiffe://{td}/ns/{ns}/sa/{name}")
        elif kind == "Namespace" and name is not None:
            namespaces.append(name)
        else:
            return None
    if identities:
        out.append({"identities": sorted(set(identities))})
    if namespaces:
        out.append({"namespaces": sorted(set(namespaces))})
    return out


def _operation(m: G.NativeMatch) -> dict[str, Any] | None:
    """A route match as an authorization `to` (query conditions cannot be written)."""
    if m.query:
        return None
    op: dict[str, Any] = {}
    if m.method:
        op["methods"] = [m.method]
    if m.path_type == "Exact":
        op["paths"] = [{"exact": m.path_value}]
    elif m.path_type == "RegularExpression":
        op["paths"] = [{"regex": m.path_value}]
    elif m.path_value.rstrip("/"):
        op["paths"] = [{"prefix": m.path_value.rstrip("/")}]
    headers = []
    for kind, name, value in m.headers:
        headers.append(
            {"name": name, "exact": value}
            if kind == "Exact"
            else (
                {"name": name, "present": True} if value == ".*" else {"name": name, "regex": value}
            )
        )
    if headers:
        op["headers"] = headers
    return op


def _inside(inner: G.NativeMatch, outer: G.NativeMatch) -> bool:
    """Every request `inner` matches, `outer` matches too (conservatively)."""
    if outer.method is not None and inner.method != outer.method:
        return False
    if not set(outer.headers) <= set(inner.headers) or not set(outer.query) <= set(inner.query):
        return False
    if outer.path_type == "PathPrefix":
        base = outer.path_value.rstrip("/")
        if inner.path_type == "RegularExpression":
            return not base
        value = (
            inner.path_value.rstrip("/") if inner.path_type == "PathPrefix" else inner.path_value
        )
        return not base or value == base or value.startswith(base + "/")
    return (inner.path_type, inner.path_value) == (outer.path_type, outer.path_value)


def import_authorization(
    draft: Draft,
    index: PolicyIndex,
    server: R.Server,
    doc: NativeDocument,
    trust_domain: str,
    diagnostics: list[Diagnostic],
) -> None:
    """Write the draft's `authorization` and `mtls` from one Server and what targets it."""
    where = doc.origin.locate(())
    on_server = {("Server", server.name), ("Namespace", server.namespace)}
    routes = [
        (route, rdoc)
        for route, rdoc in index.routes
        if route.namespace == server.namespace
        and any(p.kind == "Server" and p.name == server.name for p in route.parents)
    ]
    taken: set[str] = set()

    def unique(name: str) -> str:
        base = name or "rule"
        candidate, n = base, 1
        while candidate in taken or not _dns(candidate):
            candidate = f"{_dns_part(base)}-{n}"
            n += 1
        taken.add(candidate)
        return candidate

    def policies_on(targets: set[tuple[str, str]]) -> list[tuple[list[dict[str, Any]], str]]:
        out = []
        for policy, pdoc in index.policies:
            if policy.namespace != server.namespace:
                continue
            if (policy.target.kind, policy.target.name) not in targets:
                continue
            sources, why = _sources(index, policy, trust_domain)
            if sources is None:
                diagnostics.append(
                    C.FIELD_DROPPED(
                        f"AuthorizationPolicy {policy.name}: {why}; not imported (fewer requests "
                        "are allowed than in Linkerd)",
                        location=pdoc.origin.locate(("spec", "requiredAuthenticationRefs")),
                        target="linkerd",
                    )
                )
                continue
            out.append((sources, policy.annotations.get(RULE_ANNOTATION) or policy.name))
        return out

    access = server.access_policy
    server_rules = policies_on(on_server)
    if not routes and not server_rules and access not in ("deny",):
        # nothing but the access policy: STRICT (authenticated clients) or PERMISSIVE
        mode = "STRICT" if access in AUTHENTICATED_POLICIES else "PERMISSIVE"
        draft.extra.setdefault("mtls", {"mode": mode})
        return
    rules: list[dict[str, Any]] = []
    admits_plain = access in PLAINTEXT_POLICIES
    default = "allow" if admits_plain else "deny"
    if access in AUTHENTICATED_POLICIES:
        server_rules.append(([{"authenticated": True}], ""))
    if not routes:
        for sources, name in server_rules:
            rule: dict[str, Any] = {"name": unique(name or "authenticated"), "action": "ALLOW"}
            if sources:
                rule["from"] = sources
            rules.append(rule)
            admits_plain = admits_plain or not sources
    else:
        matches: list[
            tuple[G.NativeMatch, list[tuple[list[dict[str, Any]], str]], G.HttpRoute]
        ] = []
        for route, _ in routes:
            own = policies_on({("HTTPRoute", route.name)})
            for rule_ in route.rules:
                for m in rule_.matches:
                    matches.append((m, own + server_rules, route))
        for m, allowed, route in matches:
            op = _operation(m)
            if op is None:
                diagnostics.append(
                    C.FIELD_DROPPED(
                        f"inbound route {route.name}: query conditions cannot be written in an "
                        "authorization rule; its policies are not imported (narrower)",
                        location=where,
                        target="linkerd",
                    )
                )
                continue
            for sources, name in allowed:
                rule = {"name": unique(name or route.name), "action": "ALLOW", "to": op}
                if sources:
                    rule["from"] = sources
                rules.append(rule)
                admits_plain = admits_plain or not sources
            # requests a more specific route takes away: deny who this route admits there
            for inner, inner_allowed, inner_route in matches:
                if inner_route is route or not _inside(inner, m) or inner == m:
                    continue
                narrower = {repr(s) for s, _ in inner_allowed}
                for sources, _name in allowed:
                    if repr(sources) in narrower:
                        continue
                    iop = _operation(inner)
                    if iop is None:
                        continue
                    deny: dict[str, Any] = {
                        "name": unique(f"{inner_route.name}-closed"),
                        "action": "DENY",
                        "to": iop,
                    }
                    if sources:
                        deny["from"] = sources
                    if not any(
                        d.get("action") == "DENY"
                        and d.get("to") == iop
                        and d.get("from") == deny.get("from")
                        for d in rules
                    ):
                        rules.append(deny)
        if access in PLAINTEXT_POLICIES or access in AUTHENTICATED_POLICIES:
            diagnostics.append(
                C.FIELD_DROPPED(
                    f"Server {server.name}: accessPolicy {access} with inbound routes: requests "
                    "no route matches get 404 in Linkerd; imported as denied",
                    location=where,
                    target="linkerd",
                )
            )
        default = "deny"
    if rules or default == "deny":
        draft.extra["authorization"] = {"default": default, **({"rules": rules} if rules else {})}
    mode = "PERMISSIVE" if admits_plain else "STRICT"
    draft.extra.setdefault("mtls", {"mode": mode})


def _dns(name: str) -> bool:
    import re

    return re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", name) is not None


def _dns_part(name: str) -> str:
    import re

    cleaned = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:50]
    return cleaned or "rule"


def index_policy(documents: Sequence[NativeDocument]) -> PolicyIndex:
    index = PolicyIndex()
    for doc in documents:
        kind = doc.kind
        group = str(doc.data.get("apiVersion", "")).split("/")[0]
        if group != R.POLICY_GROUP and not (kind == "HTTPRoute" and group == G.GROUP):
            continue
        if kind == "Server":
            index.servers.append((R.Server.parse(doc.data), doc))
        elif kind == "AuthorizationPolicy":
            index.policies.append((R.AuthorizationPolicy.parse(doc.data), doc))
        elif kind == "MeshTLSAuthentication":
            a = R.MeshTLSAuthentication.parse(doc.data)
            index.meshtls[(a.namespace, a.name)] = a
        elif kind == "NetworkAuthentication":
            n = R.NetworkAuthentication.parse(doc.data)
            index.networks[(n.namespace, n.name)] = n
        elif kind == "HTTPRoute":
            route = G.parse_route(doc.data)
            if any(p.kind == "Server" for p in route.parents):
                index.routes.append((route, doc))
    index.policies.sort(key=lambda pd: (pd[0].namespace, pd[0].name))
    return index


def server_authorizations(
    documents: Sequence[NativeDocument], index: PolicyIndex, diagnostics: list[Diagnostic]
) -> None:
    """Legacy ServerAuthorizations as AuthorizationPolicies on the Servers they name."""
    for doc in documents:
        if doc.kind != "ServerAuthorization":
            continue
        spec = doc.data.get("spec") or {}
        server_ref = spec.get("server") or {}
        client = spec.get("client") or {}
        where = doc.origin.locate(())
        names = []
        if "name" in server_ref:
            names = [str(server_ref["name"])]
        else:
            selector = (server_ref.get("selector") or {}).get("matchLabels") or {}
            for s, sdoc in index.servers:
                labels = (sdoc.data.get("metadata") or {}).get("labels") or {}
                if (
                    s.namespace == doc.namespace
                    and selector
                    and all(labels.get(k) == v for k, v in selector.items())
                ):
                    names.append(s.name)
        required: list[R.Ref] = []
        mesh = client.get("meshTLS")
        networks = client.get("networks")
        if networks:
            diagnostics.append(
                C.FIELD_DROPPED(
                    f"ServerAuthorization {doc.name}: networks cannot be written in the spec; "
                    "not imported (narrower)",
                    location=where,
                    target="linkerd",
                )
            )
            continue
        if client.get("unauthenticated"):
            net_name = f"{doc.name}-all"
            index.networks[(doc.namespace, net_name)] = R.NetworkAuthentication(
                doc.namespace, net_name, (("0.0.0.0/0", ()), ("::/0", ()))
            )
            required.append(R.Ref("NetworkAuthentication", net_name, doc.namespace))
        elif isinstance(mesh, Mapping):
            identities = [str(i) for i in mesh.get("identities") or []]
            refs = tuple(
                ("ServiceAccount", str(sa.get("name")), str(sa.get("namespace") or doc.namespace))
                for sa in mesh.get("serviceAccounts") or []
                if isinstance(sa, Mapping)
            )
            if mesh.get("unauthenticatedTLS"):
                identities = ["*"]
            authn = R.MeshTLSAuthentication(
                doc.namespace, f"{doc.name}-tls", tuple(identities), refs
            )
            index.meshtls[(doc.namespace, authn.name)] = authn
            required.append(R.Ref("MeshTLSAuthentication", authn.name, doc.namespace))
        diagnostics.append(
            C.LEGACY_AUTHZ(f"ServerAuthorization {doc.name} read", location=where, target="linkerd")
        )
        for name in names:
            policy = R.AuthorizationPolicy(
                doc.namespace, f"{doc.name}", R.Ref("Server", name, doc.namespace), tuple(required)
            )
            index.policies.append((policy, doc))
    index.policies.sort(key=lambda pd: (pd[0].namespace, pd[0].name))


def annotations_known(notes: Mapping[str, str]) -> list[str]:
    """Linkerd annotations of the retry, timeout and balancer prefixes not understood."""
    known = {
        R.RETRY_HTTP,
        R.RETRY_GRPC,
        R.RETRY_LIMIT,
        R.RETRY_TIMEOUT,
        R.TIMEOUT_REQUEST,
        R.ACCRUAL,
        R.ACCRUAL_MAX_FAILURES,
        R.ACCRUAL_MIN_PENALTY,
        R.ACCRUAL_MAX_PENALTY,
        R.ACCRUAL_JITTER,
    }
    return [k for k in notes if k.startswith(R.LINKERD_ANNOTATION_PREFIXES) and k not in known]

"""PeerAuthentication and AuthorizationPolicy as neutral mtls and authorization.

Neutral policy is per service; Istio's is per mesh, namespace, workload (a label
selector, possibly one version) and port. Wider Istio scopes are copied onto each
imported service (an info finding). Where the neutral spec cannot say exactly what
Istio says, the importer keeps the stricter meaning (fail closed) and says so:
a per-version mode becomes the strictest of the service's modes; an ALLOW rule with
a condition the neutral spec lacks is dropped (fewer requests allowed), a DENY rule
keeps only the conditions it can express (more requests denied); a CUSTOM policy's
rules become DENY rules (the external authorizer cannot be modelled).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.istio import import_codes as C
from adapters.istio._import_context import ImportContext, PathKey, ServiceDraft
from adapters.istio._security import RULES_ANNOTATION
from adapters.istio.resources import ROOT_NAMESPACE
from adapters.kit.first_match import string_prefix_pieces
from meshspec.adapter import NativeDocument

_STRICTNESS = {"DISABLE": 0, "PERMISSIVE": 1, "STRICT": 2}
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _targets(
    ctx: ImportContext, doc: NativeDocument, selector: Any
) -> tuple[list[ServiceDraft], bool]:
    """Services a policy applies to, and whether the selector narrows to part of one."""
    labels = (selector or {}).get("matchLabels") if isinstance(selector, Mapping) else None
    ns = doc.namespace
    in_scope = [s for s in ctx.services.values() if ns == ROOT_NAMESPACE or s.namespace == ns]
    if not labels:
        return in_scope, False
    labels = {str(k): str(v) for k, v in labels.items()}
    app = labels.pop("app", None)
    chosen = [s for s in in_scope if app is None or s.name == app]
    if not labels:
        return chosen, False
    # With the service's pods known, the selector is read against them: all of them,
    # none of them (not this service), or some (one version).
    partial = False
    kept = []
    for s in chosen:
        if s.pods:
            hits = [_subset(labels, p.labels) for p in s.pods]
            if any(hits):
                kept.append(s)
                partial = partial or not all(hits)
            continue
        kept.append(s)
        versions = list(s.versions.values())
        if not (versions and all(_subset(labels, v) for v in versions)):
            partial = True
    return kept, partial


def strictest(*modes: str) -> str:
    return max(modes, key=lambda m: _STRICTNESS.get(m, 0))


def _subset(small: Mapping[str, str], big: Mapping[str, str]) -> bool:
    return all(big.get(k) == v for k, v in small.items())


def import_peer_authentication(ctx: ImportContext, doc: NativeDocument) -> str | None:
    """Records modes on the services; returns the mesh-wide mode if this is one."""
    spec = doc.data.get("spec") or {}
    mode = str((spec.get("mtls") or {}).get("mode") or "UNSET").upper()
    selector = spec.get("selector")
    if doc.namespace == ROOT_NAMESPACE and selector is None:
        return None if mode == "UNSET" else mode
    if doc.namespace == ROOT_NAMESPACE:
        ctx.report(
            C.FIELD_DROPPED,
            doc,
            ("spec", "selector"),
            "Istio ignores selector policies in the root namespace; so does the import",
        )
        return None
    services, partial = _targets(ctx, doc, selector)
    if not services:
        ctx.report(C.HOST_NOT_SERVICE, doc, (), "selects no imported service; not imported")
    if selector is None:
        ctx.report(C.NAMESPACE_SCOPE, doc, (), "namespace-wide mode written on each service")
    if partial:
        ctx.report(
            C.MTLS_NARROWED,
            doc,
            ("spec", "selector"),
            "the selector picks some pods of a service; the stricter mode is used for all",
        )
    for svc in services:
        if mode != "UNSET":
            if selector is None:
                svc.mtls_namespace = svc.mtls_namespace or mode
            elif partial:
                # Resolved once the mesh-wide mode is known: the strictest wins.
                svc.mtls_partial.append(mode)
            else:
                svc.mtls_workload = svc.mtls_workload or mode
        for port, setting in (spec.get("portLevelMtls") or {}).items():
            pmode = str((setting or {}).get("mode") or "UNSET").upper()
            if pmode != "UNSET" and selector is not None:
                # portLevelMtls names the workload (container) port.
                # portLevelMtls names the workload port: every Service port landing there
                for service_port in svc.service_ports(int(str(port))):
                    if not svc.declared:
                        svc.ports.setdefault(service_port, "http")
                    svc.mtls_ports.setdefault(service_port, pmode)
    return None


def import_authorization_policy(ctx: ImportContext, doc: NativeDocument) -> None:
    spec = doc.data.get("spec") or {}
    action = str(spec.get("action") or "ALLOW").upper()
    annotations = (doc.data.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get("istio.io/dry-run", "")).lower() == "true":
        ctx.report(
            C.FIELD_DROPPED,
            doc,
            ("metadata", "annotations", "istio.io/dry-run"),
            "a dry-run policy only logs its decision; not imported",
        )
        return
    if action == "AUDIT":
        ctx.report(C.FIELD_DROPPED, doc, ("spec", "action"), "AUDIT policies do not decide")
        return
    if spec.get("targetRefs") or spec.get("targetRef"):
        ctx.report(C.FIELD_DROPPED, doc, ("spec", "targetRefs"), "targetRefs are not imported")
        return
    services, partial = _targets(ctx, doc, spec.get("selector"))
    if not services:
        ctx.report(C.HOST_NOT_SERVICE, doc, (), "selects no imported service; not imported")
        return
    if doc.namespace == ROOT_NAMESPACE or spec.get("selector") is None:
        ctx.report(C.NAMESPACE_SCOPE, doc, (), "policy copied onto each service in its scope")
    neutral_action = "ALLOW" if action == "ALLOW" else "DENY"
    if action == "CUSTOM":
        ctx.report(
            C.AUTHZ_FAILS_CLOSED,
            doc,
            ("spec", "action"),
            "CUSTOM (external authorizer) rules become DENY rules",
            example={"method": "GET", "target": "/", "headers": {}},
        )
    rules: list[dict[str, Any]] = []
    for index, rule in enumerate(spec.get("rules") or []):
        http_ports = _http_ports(services)
        for body in _rule(
            ctx, doc, ("spec", "rules", index), rule or {}, neutral_action, http_ports
        ):
            rules.append({**body, "_origin": (doc, ("spec", "rules", index))})
    if partial and action == "ALLOW":
        # The neutral spec has no per-version policy. Applied to every version these
        # rules would allow requests Istio denies on the other versions; left out, the
        # selected versions allow less (their ALLOW policy still makes them deny by
        # default, and so the whole service does).
        ctx.report(
            C.AUTHZ_FAILS_CLOSED,
            doc,
            ("spec", "selector"),
            "the selector picks some versions only: its ALLOW rules are left out and the "
            "whole service denies what no other ALLOW rule allows",
        )
        rules = []
    elif partial:
        ctx.report(
            C.AUTHZ_FAILS_CLOSED,
            doc,
            ("spec", "selector"),
            "the selector picks some versions only; its DENY rules apply to the whole service",
        )
    names = _annotated_names(doc, len(rules))
    base = re.sub(r"[^a-z0-9-]+", "-", doc.name.lower()).strip("-")[:50] or "policy"
    for svc in services:
        svc.has_authz = True
        if action == "ALLOW":
            svc.authz_default_deny = True
        taken = {r["name"] for r in svc.authz_rules}
        for i, rule in enumerate(rules):
            name = names[i] if names else f"{base}-{i}" if len(rules) > 1 else base
            while name in taken or not _DNS.match(name):
                name = f"{base}-{len(taken)}"
                if not _DNS.match(name):
                    name = f"rule-{len(taken)}"
            taken.add(name)
            svc.authz_rules.append({"name": name, **rule})


def _annotated_names(doc: NativeDocument, count: int) -> list[str]:
    """The neutral rule names meshspec's compiler lists in `meshspec.io/rules`, when
    the policy still holds exactly those rules (plus, for `default: allow`, a last
    allow-everything rule that is no neutral rule)."""
    annotations = (doc.data.get("metadata") or {}).get("annotations") or {}
    listed = [n for n in str(annotations.get(RULES_ANNOTATION) or "").split(",") if n]
    if not listed or count not in (len(listed), len(listed) + 1):
        return []
    if count == len(listed) + 1:
        return [*listed, "default-allow"]
    return listed


def _http_ports(services: list[ServiceDraft]) -> frozenset[str]:
    """The HTTP workload ports of the services a policy selects, where they are known
    from Kubernetes Services (a guessed port never makes a condition vacuous)."""
    out: set[str] = set()
    for svc in services:
        if not svc.declared:
            return frozenset()
        out |= {str(svc.workload_port(p)) for p, proto in svc.ports.items() if proto != "tcp"}
    return frozenset(out)


def _rule(
    ctx: ImportContext,
    doc: NativeDocument,
    path: PathKey,
    rule: Mapping[str, Any],
    action: str,
    http_ports: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Neutral rules for one Istio rule (one per `to` operation), or none."""
    problems: list[tuple[PathKey, str]] = []
    sources = [
        _source(ctx, s.get("source") or {}, (*path, "from", i), problems)
        for i, s in enumerate(rule.get("from") or [])
    ]
    operations = [
        _operation(o.get("operation") or {}, (*path, "to", i), problems, http_ports)
        for i, o in enumerate(rule.get("to") or [])
    ] or [{}]
    header_options = _when(rule.get("when") or [], (*path, "when"), problems)
    if problems:
        for where, what in problems:
            if action == "ALLOW":
                ctx.report(
                    C.AUTHZ_FAILS_CLOSED,
                    doc,
                    where,
                    f"{what}; the ALLOW rule is dropped (it allows nothing after import)",
                )
            else:
                ctx.report(
                    C.AUTHZ_FAILS_CLOSED,
                    doc,
                    where,
                    f"{what}; the DENY rule is kept without this condition (denies more)",
                )
        if action == "ALLOW":
            return []
    kept_sources = [s for s in sources if s is not None]
    if rule.get("from") and not kept_sources and action == "ALLOW":
        return []
    out = []
    for op in operations:
        if op is None:
            if action == "ALLOW":
                continue
            op = {}
        for headers in header_options:
            body: dict[str, Any] = {"action": action}
            if kept_sources:
                body["from"] = kept_sources
            to = dict(op)
            if headers:
                to["headers"] = headers
            if to:
                body["to"] = to
            out.append(body)
    return out


def _literal(value: str) -> bool:
    return "*" not in value


def _source(
    ctx: ImportContext, src: Mapping[str, Any], path: PathKey, problems: list[tuple[PathKey, str]]
) -> dict[str, Any] | None:
    found: list[dict[str, Any]] = []
    for name, values in src.items():
        where = (*path, "source", name)
        vals = [str(v) for v in values or []]
        if name == "principals":
            if "*" in vals:
                found.append({"authenticated": True})
            elif all(_literal(v) for v in vals):
                found.append({"identities": [_spiffe(ctx, v) for v in vals]})
            else:
                problems.append((where, "principal patterns have no neutral form"))
        elif name == "namespaces":
            if "*" in vals:
                found.append({"authenticated": True})
            elif all(_literal(v) for v in vals):
                found.append({"namespaces": vals})
            else:
                problems.append((where, "namespace patterns have no neutral form"))
        elif name == "serviceAccounts":
            if all(_literal(v) and "/" in v for v in vals):
                ids = [
                    _spiffe(ctx, f"{ctx.trust_domain}/ns/{v.split('/')[0]}/sa/{v.split('/')[1]}")
                    for v in vals
                ]
                found.append({"identities": ids})
            else:
                problems.append(
                    (where, "service accounts without a namespace have no neutral form")
                )
        elif name == "notPrincipals" and vals == ["*"]:
            found.append({"unauthenticated": True})
        else:
            problems.append((where, f"source condition `{name}` has no neutral form"))
    if len(found) > 1:
        problems.append((path, "several source conditions ANDed have no neutral form"))
        return None
    return found[0] if found else None


def _spiffe(ctx: ImportContext, principal: str) -> str:
    if principal.startswith("cluster.local/"):
        principal = ctx.trust_domain + principal[len("cluster.local") :]
    return "spiffe://" + principal


def _operation(
    op: Mapping[str, Any],
    path: PathKey,
    problems: list[tuple[PathKey, str]],
    http_ports: frozenset[str],
) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for name, values in op.items():
        where = (*path, "operation", name)
        vals = [str(v) for v in values or []]
        if name == "methods":
            if "*" in vals:
                continue
            if all(_literal(v) and v in _HTTP_METHODS for v in vals):
                out["methods"] = vals
            else:
                problems.append((where, "method patterns or non-standard methods"))
        elif name == "ports" and http_ports and http_ports <= set(vals):
            # Every HTTP port of the workloads: the neutral rules only ever see HTTP
            # traffic, so the condition holds for all of it (meshspec's compiler scopes
            # DENY rules with HTTP conditions this way, as Istio's docs recommend).
            continue
        elif name == "paths":
            converted = [_authz_path(v) for v in vals]
            if any(c is None for c in converted):
                continue  # `*` = any path
            out["paths"] = [p for c in converted if c for p in c]
        else:
            problems.append((where, f"operation condition `{name}` has no neutral form"))
    return out


_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")


def _authz_path(value: str) -> list[dict[str, str]] | None:
    """Istio path strings (exact, `abc*`, `*abc`, `*`, templates) as neutral paths."""
    if value == "*":
        return None
    if "{*}" in value or "{**}" in value:
        parts = re.split(r"(\{\*\*\}|\{\*\})", value)
        rx = "".join(
            "[^/]+" if p == "{*}" else ".*" if p == "{**}" else re.escape(p) for p in parts
        )
        return [{"regex": rx}]
    if value.endswith("*"):
        out = []
        for piece in string_prefix_pieces(value[:-1]):
            if piece is None:
                return None
            kind, v = piece
            if kind == "prefix":
                out.append({"prefix": v})
            elif kind == "cont":
                out.append({"regex": re.escape(v) + "[^/].*"})
            else:
                out.append({"regex": re.escape(v) + ".*"})
        return out
    if value.startswith("*"):
        return [{"regex": ".*" + re.escape(value[1:])}]
    return [{"exact": value}]


def _when(
    conditions: list[Any], path: PathKey, problems: list[tuple[PathKey, str]]
) -> list[list[dict[str, Any]]]:
    """Header conditions as alternatives: Istio ORs the `values` of one condition and
    ANDs the conditions, so `values: [a, b]` becomes two neutral rules, one per value
    (a regex would be exact too, but no target writes regex header matches in
    authorization). Past 16 alternatives the values fall back to one regex."""
    options: list[list[dict[str, Any]]] = [[]]
    for i, cond in enumerate(conditions):
        key = str((cond or {}).get("key", ""))
        where = (*path, i)
        m = re.match(r"^request\.headers\[(.+)\]$", key)
        if not m or cond.get("notValues") is not None:
            problems.append((where, f"condition `{key}` has no neutral form"))
            continue
        name = m.group(1).lower()
        values = [str(v) for v in cond.get("values") or []]
        matches = [_header_value(name, v) for v in values]
        if len(matches) > 1 and len(options) * len(matches) > 16:
            rx = "|".join(_header_regex(v) for v in values)
            matches = [{"name": name, "regex": rx or ".*"}]
        options = [[*o, m] for o in options for m in matches] if matches else options
    return options


def _header_value(name: str, value: str) -> dict[str, Any]:
    if value == "*":
        return {"name": name, "present": True}
    if value.endswith("*"):
        return {"name": name, "prefix": value[:-1]}
    if value.startswith("*"):
        return {"name": name, "regex": ".*" + re.escape(value[1:])}
    return {"name": name, "exact": value}


def _header_regex(value: str) -> str:
    if value == "*":
        return ".+"
    if value.endswith("*"):
        return re.escape(value[:-1]) + ".*"
    if value.startswith("*"):
        return ".*" + re.escape(value[1:])
    return re.escape(value)

"""PeerAuthentication and AuthorizationPolicy: the neutral mTLS modes and authz order.

mTLS: Istio defaults to PERMISSIVE, the spec to STRICT, so the mesh-wide
policy (root namespace, no selector) is always written. Services that differ
get a workload policy (selector `app: <name>`) with `portLevelMtls` for port
overrides, which Istio only accepts together with a selector
(istio/api `peer_authentication.proto`).

Authorization: the spec decides "first matching DENY, else first matching
ALLOW, else the default". Istio decides "any DENY, else allow if no ALLOW
policy selects the workload, else any ALLOW, else deny"
(istio/api `authorization_policy.proto`). Same outcome when the DENY rules
form one DENY policy, the ALLOW rules one ALLOW policy, default deny without
ALLOW rules is an ALLOW policy with no rules (allows nothing), and default
allow with ALLOW rules gets an extra allow-everything rule `{}`.

What Istio cannot express (regex paths and header values) is an error and,
if the user accepts the loss, fails closed: a DENY rule drops the condition
(denies more), an ALLOW rule drops the regex paths, or the whole rule when
nothing else would restrict it (allows less).

Every string Istio reads in an AuthorizationPolicy is a pattern (`*` prefix,
suffix, presence; `{*}`/`{**}` path templates), so literals are checked and
never written where they would be read as a pattern. Peers are written as
`principals` (literal SPIFFE IDs without the scheme), never `serviceAccounts`,
whose matching once treated `.` as a regex (CVE-2026-39350).
"""

from __future__ import annotations

from typing import Any

from adapters._k8s import metadata, resource, source_of, workload_selector
from adapters.istio import codes
from adapters.istio.resources import ROOT_NAMESPACE, SECURITY
from adapters.kit import CompileContext
from meshspec.semantics import port_mode
from meshspec.spec import (
    AuthzAction,
    AuthzRule,
    DefaultAction,
    HeaderMatch,
    Operation,
    PathMatch,
    Protocol,
    Source,
)
from meshspec.spec.bundle import PathKey

RULES_ANNOTATION = "meshspec.io/rules"


def peer_authentications(ctx: CompileContext) -> list[dict[str, Any]]:
    mesh_mode = ctx.spec.mesh.mtls.mode
    mesh_source = source_of(ctx.spec, "mesh", ("spec", "mtls"))
    out = [
        resource(
            SECURITY,
            "PeerAuthentication",
            metadata("default", ROOT_NAMESPACE, mesh_source),
            {"mtls": {"mode": str(mesh_mode)}},
        )
    ]
    for key, svc in ctx.spec.services.items():
        mode = port_mode(ctx.spec, key, None)
        # Keyed by the workload port (the Service's targetPort): "the port refers to
        # the port of the workload, not the port of the Kubernetes service" (istio/api
        # `security/v1beta1/peer_authentication.proto`, istio/api PR #3075). Ports
        # sharing a target port have one mode (validation, MS217).
        overrides = {
            p.workload_port: port_mode(ctx.spec, key, p.port)
            for p in sorted(svc.spec.ports, key=lambda p: p.workload_port)
        }
        differing = {port: m for port, m in overrides.items() if m is not mode}
        if mode is mesh_mode and not differing:
            continue
        spec: dict[str, Any] = {
            "selector": {"matchLabels": workload_selector(svc.metadata.name)},
            "mtls": {"mode": str(mode)},
        }
        if differing:
            spec["portLevelMtls"] = {str(p): {"mode": str(m)} for p, m in differing.items()}
        meta = metadata(
            svc.metadata.name,
            svc.metadata.namespace,
            source_of(ctx.spec, key, ("spec", "mtls")),
        )
        out.append(resource(SECURITY, "PeerAuthentication", meta, spec))
    return out


def authorization_policies(ctx: CompileContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, svc in ctx.spec.services.items():
        authz = svc.spec.authorization
        if authz is None:
            continue
        name, ns = svc.metadata.name, svc.metadata.namespace
        indexed = list(enumerate(authz.rules))
        deny = [(i, r) for i, r in indexed if r.action is AuthzAction.DENY]
        allow = [(i, r) for i, r in indexed if r.action is AuthzAction.ALLOW]
        source = source_of(ctx.spec, key, ("spec", "authorization"))
        if deny:
            rules = [rule for i, r in deny if (rule := _rule(ctx, key, i, r)) is not None]
            meta = _policy_meta(f"{name}-deny", ns, source, [r for _, r in deny])
            spec = {"selector": _selector(name), "action": "DENY", "rules": rules}
            out.append(resource(SECURITY, "AuthorizationPolicy", meta, spec))
        allow_rules = [rule for i, r in allow if (rule := _rule(ctx, key, i, r)) is not None]
        if allow and authz.default is DefaultAction.ALLOW:
            allow_rules.append({})  # keep the default: an ALLOW policy would flip it to deny
        if allow or authz.default is DefaultAction.DENY:
            meta = _policy_meta(f"{name}-allow", ns, source, [r for _, r in allow])
            spec = {"selector": _selector(name), "action": "ALLOW"}
            if allow_rules:
                spec["rules"] = allow_rules
            out.append(resource(SECURITY, "AuthorizationPolicy", meta, spec))
    return out


def _selector(name: str) -> dict[str, Any]:
    return {"matchLabels": workload_selector(name)}


def _policy_meta(name: str, ns: str, source: str, rules: list[AuthzRule]) -> dict[str, Any]:
    extra = {RULES_ANNOTATION: ",".join(r.name for r in rules)} if rules else {}
    return metadata(name, ns, source, **extra)


def _rule(ctx: CompileContext, key: str, index: int, rule: AuthzRule) -> dict[str, Any] | None:
    """The Istio rule, or None when an ALLOW rule cannot be kept without allowing more."""
    base: PathKey = ("spec", "authorization", "rules", index)
    deny = rule.action is AuthzAction.DENY
    out: dict[str, Any] = {}
    if rule.from_:
        out["from"] = [
            {"source": _source(ctx, key, (*base, "from", i), s)} for i, s in enumerate(rule.from_)
        ]
    if rule.to is not None:
        operation = _operation(ctx, key, (*base, "to"), rule.to, deny)
        conditions = _conditions(ctx, key, (*base, "to", "headers"), rule.to.headers, deny)
        if operation is None or conditions is None:
            return None
        if deny and (operation or conditions):
            # A DENY rule with HTTP attributes matches every request on a TCP
            # port (Istio treats the missing attribute as matching), so it is
            # scoped to the service's HTTP ports, as Istio's docs recommend.
            operation["ports"] = _http_ports(ctx, key)
        if operation:
            out["to"] = [{"operation": operation}]
        if conditions:
            out["when"] = conditions
    return out


def _http_ports(ctx: CompileContext, key: str) -> list[str]:
    """The workload ports (targetPorts) behind the service's HTTP ports.

    Istio matches `to.operation.ports` against the port the connection arrives on
    at the server sidecar (Envoy RBAC `destination_port`, istio/istio
    `pilot/pkg/security/authz/model/permission.go`), which is the workload port,
    not the Service port (istio/api PR #3075, istio/istio #49098).
    """
    ports = ctx.spec.service(key).spec.ports
    numbers = dict.fromkeys(p.workload_port for p in ports if p.protocol is not Protocol.TCP)
    return [str(n) for n in numbers]


def _source(ctx: CompileContext, key: str, path: PathKey, src: Source) -> dict[str, Any]:
    ns = ctx.spec.service(key).metadata.namespace
    if src.authenticated:
        return {"principals": ["*"]}
    if src.unauthenticated:
        return {"notPrincipals": ["*"]}
    if src.namespaces:
        return {
            "namespaces": [_literal(ctx, key, (*path, "namespaces"), n) for n in src.namespaces]
        }
    principals: list[str] = []
    if src.services:
        for ref in src.services:
            target = ctx.spec.resolve(ref, ns)
            if target is None:  # validation rejects dangling references before compiling
                raise ValueError(f"authorization source {ref!r} does not exist")
            principals.append(_principal(ctx.spec.identity(target)))
    for ident in src.identities:
        principals.append(_principal(ident))
    return {"principals": [_literal(ctx, key, path, p) for p in principals]}


def _principal(spiffe: str) -> str:
    """Istio principals are SPIFFE IDs without the scheme: `td/ns/<ns>/sa/<sa>`."""
    return spiffe.removeprefix("spiffe://")


def _literal(ctx: CompileContext, key: str, path: PathKey, value: str) -> str:
    """`value` unchanged, after checking Istio would not read it as a wildcard."""
    if "*" in value:
        ctx.report(
            codes.AUTHZ_WILDCARD_LITERAL,
            key,
            path,
            f"'{value}' contains '*', which Istio reads as a wildcard, not a character",
            "avoid '*' in names, paths and header values used by authorization rules",
        )
    return value


def _operation(
    ctx: CompileContext, key: str, path: PathKey, op: Operation, deny: bool
) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    if op.methods:
        out["methods"] = list(op.methods)
    paths: list[str] = []
    lost = False
    for i, p in enumerate(op.paths):
        written = _paths(ctx, key, (*path, "paths", i), p)
        lost = lost or not written
        paths.extend(written)
    if lost and deny:
        return out  # fail closed: the DENY rule applies to every path
    if lost and not paths:
        return None  # fail closed: the ALLOW rule cannot be kept
    if paths:
        out["paths"] = paths
    return out


def _paths(ctx: CompileContext, key: str, path: PathKey, match: PathMatch) -> list[str]:
    if match.regex is not None:
        ctx.report(
            codes.AUTHZ_REGEX_PATH,
            key,
            (*path, "regex"),
            f"path regex '{match.regex}' cannot be written in an Istio AuthorizationPolicy "
            "(paths take exact, prefix '*', suffix and {*} templates only); if accepted, "
            "a DENY rule covers every path and an ALLOW rule drops this path",
            "use exact or prefix paths in authorization rules, or pass --allow-lossy authz",
        )
        return []
    if match.exact is not None:
        return [_path_literal(ctx, key, (*path, "exact"), match.exact)]
    base = _path_literal(ctx, key, (*path, "prefix"), (match.prefix or "/").rstrip("/"))
    if not base:
        return ["/*"]
    return [base, base + "/*"]  # segment-aware prefix: the path itself or below it


def _path_literal(ctx: CompileContext, key: str, path: PathKey, value: str) -> str:
    if "{" in value or "}" in value:
        ctx.report(
            codes.AUTHZ_WILDCARD_LITERAL,
            key,
            path,
            f"path '{value}' contains '{{' or '}}', which Istio reads as a path template",
            "avoid braces in authorization paths",
        )
    return _literal(ctx, key, path, value)


def _conditions(
    ctx: CompileContext, key: str, path: PathKey, headers: tuple[HeaderMatch, ...], deny: bool
) -> list[dict[str, Any]] | None:
    out = []
    lost = False
    for i, h in enumerate(headers):
        at = (*path, i)
        if h.regex is not None:
            ctx.report(
                codes.AUTHZ_REGEX_HEADER,
                key,
                (*at, "regex"),
                f"header '{h.name}' regex '{h.regex}' cannot be written in an Istio "
                "AuthorizationPolicy condition; if accepted, a DENY rule drops the condition "
                "and an ALLOW rule is left out",
                "use exact, prefix or present header matches, or pass --allow-lossy authz",
            )
            lost = True
            continue
        if h.present:
            values = ["*"]
        elif h.prefix is not None:
            values = [_literal(ctx, key, (*at, "prefix"), h.prefix) + "*"]
            _report_header_loss(ctx, key, (*at, "prefix"), h.name, h.prefix, deny, "starts with")
        else:
            exact = _literal(ctx, key, (*at, "exact"), h.exact or "")
            values = _deny_exact_values(exact) if deny else [exact]
            if not deny or "," not in exact:
                _report_header_loss(ctx, key, (*at, "exact"), h.name, exact, deny, "is")
        out.append({"key": f"request.headers[{h.name}]", "values": values})
    if lost and not deny:
        return None
    return out


def _deny_exact_values(value: str) -> list[str]:
    """The Istio values closest to "some comma-separated element is `value`".

    Istio turns a value into exact, prefix `x*`, suffix `*x` or presence `*` only
    (istio.io docs/reference/config/security/conditions; istio/istio
    pilot/pkg/security/authz/matcher/header.go `HeaderMatcher`), and Envoy's RBAC
    tests each line of a repeated header on its own (`_model_headers`). So `v`
    catches every line that is the element alone, `v,*` a line listing it first,
    `*,v` and `*, v` a line listing it last; one in the middle of a line cannot
    be caught (MS1013). A value holding ',' is never an element, only a whole
    value, so it stays exact.
    """
    if "," in value:
        return [value]
    return [value, f"{value},*", f"*,{value}", f"*, {value}"]


def _report_header_loss(
    ctx: CompileContext, key: str, path: PathKey, header: str, value: str, deny: bool, how: str
) -> None:
    """MS1013 or MS1014, with a request whose Istio answer differs from the spec's."""
    if deny:
        ctx.report(
            codes.AUTHZ_DENY_HEADER_ELEMENT,
            key,
            path,
            f"DENY when an element of header '{header}' {how} '{value}': Istio cannot catch "
            f"such an element in the middle of a listed value; a request with the line "
            f"'{header}: a,{value},b' gets through",
            "deny on a header clients cannot list values in, or pass --allow-lossy authz to "
            "accept that such requests get through",
        )
        return
    ctx.report(
        codes.AUTHZ_ALLOW_HEADER_LINES,
        key,
        path,
        f"ALLOW when header '{header}' {how} '{value}' tests the header's lines joined with "
        "',', but Envoy's RBAC holds when any one line matches; a request sending "
        f"'{header}: {value}' and '{header}: other' (joined '{value},other') is allowed",
        "use a header that cannot be sent twice or match on it with presence only, or pass "
        "--allow-lossy authz to accept that such requests are allowed",
    )

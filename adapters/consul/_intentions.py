"""service-intentions of one service: the spec's DENY-then-ALLOW-then-default, per caller.

Consul lets exactly one intention decide a source/destination pair: the source written with
the highest precedence (an exact service name before `*`; service-intentions reference,
"Sources[].Precedence"; intentions overview, precedence table), and inside it the first L7
permission that matches; a request that matches no permission falls to the agents'
`acl.default_policy`, not to a less precise source (service-intentions reference,
`Sources[].Permissions`). So every caller the rules name gets the whole list of rules that
apply to it, DENY rules first, then ALLOW rules, then an explicit permission for the spec's
default; `*` gets the rules that apply to every caller. Permissions test the path Consul
normalised (mesh `HTTP.Incoming.RequestNormalization`), and header conditions test each line
of a repeated header (Envoy RBAC `header` matcher; Consul's warning on `Header[].Exact`).
"""

from __future__ import annotations

import copy
from typing import Any

from adapters.consul import codes as C
from adapters.consul._names import names_meta
from adapters.consul._routes import path_conditions
from adapters.consul.entries import SERVICE_INTENTIONS, entry
from adapters.kit import CompileContext
from meshspec.spec import AuthzAction, AuthzRule, DefaultAction, HeaderMatch, Spec
from meshspec.spec.authz import Source

ANY = "*"
_CATCH_ALL = {"PathPrefix": "/"}


class Callers:
    """The spec's Consul service names by identity and by namespace, built once per compile
    (looking them up per rule would scan the mesh for every service)."""

    def __init__(self, spec: Spec, target: str) -> None:
        self.by_identity: dict[str, list[str]] = {}
        self.by_namespace: dict[str, set[str]] = {}
        for k, svc in spec.services.items():
            self.by_identity.setdefault(spec.identity(k), []).append(svc.metadata.name)
            self.by_namespace.setdefault(svc.metadata.namespace, set()).add(svc.metadata.name)
        #: Consul CE's one namespace holds exactly the spec's namespace `default` where the
        #: spec has no other and the agents register services themselves (`consul`); on
        #: Kubernetes, consul-k8s registers the services of every Kubernetes namespace in it
        #: (namespaces are Enterprise: developer.hashicorp.com/consul/docs/multi-tenant/namespace)
        alone = target == "consul" and set(self.by_namespace) == {"default"}
        self.whole = "default" if alone else None


def intentions(
    spec: Spec, key: str, found: CompileContext, l7: bool, known: Callers
) -> dict[str, Any] | None:
    svc = spec.service(key)
    authz = svc.spec.authorization
    if authz is None:
        return None
    callers: list[set[str]] = []
    for i, rule in enumerate(authz.rules):
        where = ("spec", "authorization", "rules", i)
        callers.append(_callers(spec, key, rule, where, found, known))
    named = sorted({n for c in callers for n in c} - {ANY})
    ordered = [
        *(r for r in enumerate(authz.rules) if r[1].action is AuthzAction.DENY),
        *(r for r in enumerate(authz.rules) if r[1].action is AuthzAction.ALLOW),
    ]
    default = "deny" if authz.default is DefaultAction.DENY else "allow"
    sources: list[dict[str, Any]] = []
    names: list[tuple[str, str]] = []
    https: dict[int, list[dict[str, Any]]] = {}  # each rule's permissions, once for all callers
    for caller in [*named, ANY]:
        rules = [(i, r) for i, r in ordered if ANY in callers[i] or caller in callers[i]]
        source, pairs = _source(caller, rules, default, key, found, l7, https)
        sources.append(source)
        names.extend(pairs)
    meta = names_meta(names)
    if meta is None:
        found.report(
            C.NAMES_TOO_LONG,
            key,
            ("spec", "authorization", "rules"),
            f"the neutral names of {len(names)} permissions of {svc.metadata.name} are not written",
            hint="shorter rule names keep them",
        )
    return entry(SERVICE_INTENTIONS, svc.metadata.name, Meta=meta or {}, Sources=sources)


def _callers(
    spec: Spec,
    key: str,
    rule: AuthzRule,
    where: tuple[str | int, ...],
    found: CompileContext,
    known: Callers,
) -> set[str]:
    """The Consul service names (or `*`) a rule's sources stand for."""
    if not rule.from_:
        return {ANY}
    namespace = spec.service(key).metadata.namespace
    out: set[str] = set()
    for j, src in enumerate(rule.from_):
        here = (*where, "from", j)
        out |= _source_names(spec, namespace, src, known, rule, here, key, found)
    return out


def _source_names(
    spec: Spec,
    namespace: str,
    src: Source,
    known: Callers,
    rule: AuthzRule,
    where: tuple[str | int, ...],
    key: str,
    found: CompileContext,
) -> set[str]:
    if src.authenticated:
        # every Connect caller presents its certificate: `*` is every authenticated peer
        return {ANY}
    if src.unauthenticated:
        found.report(
            C.NO_PLAINTEXT_SOURCE,
            key,
            (*where, "unauthenticated"),
            "left out: with STRICT mTLS no plaintext peer reaches the service",
            hint="",
        )
        return set()
    out: set[str] = set()
    by_identity = known.by_identity
    for ref in src.services:
        target = spec.resolve(ref, namespace)
        if target is not None:
            out |= set(by_identity.get(spec.identity(target), []))
    for ns in src.namespaces:
        if ns == known.whole:
            # the namespace is all of Consul's one namespace: `*` (intentions reference,
            # `Sources[].Name`: `*` matches every service of the namespace)
            out.add(ANY)
            continue
        members = known.by_namespace.get(ns, set())
        out |= members
        found.report(
            C.NAMESPACE_EXPANDED,
            key,
            (*where, "namespaces"),
            f"namespace {ns} is written as its services in the spec, one source each: "
            f"{_listed(members)}",
            hint="a service registered later in that namespace is not covered; Consul "
            "Enterprise writes a namespace as one source (Name '*' with its Namespace)",
        )
    for ident in src.identities:
        names = by_identity.get(ident)
        if names:
            out |= set(names)
            continue
        deny = rule.action is AuthzAction.DENY
        found.report(
            C.IDENTITY_NOT_A_SERVICE if deny else C.IDENTITY_ALLOW_NARROWED,
            key,
            (*where, "identities"),
            f"{ident} is the identity of no service of the spec: left out"
            + (", so the DENY does not hold for it" if deny else ""),
            hint="",
        )
    return out


def _listed(members: set[str], shown: int = 10) -> str:
    """The first names (a namespace may hold thousands: every finding listing them all
    would make the findings grow with the square of the namespace)."""
    if not members:
        return "none"
    names = sorted(members)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _source(
    caller: str,
    rules: list[tuple[int, AuthzRule]],
    default: str,
    key: str,
    found: CompileContext,
    l7: bool,
    https_of: dict[int, list[dict[str, Any]]],
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    permissions: list[dict[str, Any]] = []
    names: list[str] = []
    for i, rule in rules:
        action = "deny" if rule.action is AuthzAction.DENY else "allow"
        where = ("spec", "authorization", "rules", i, "to")
        if i not in https_of:
            https_of[i] = _permission_http(rule, key, where, found)
        https = https_of[i]
        if not l7 and https != [dict(_CATCH_ALL)]:
            found.report(
                C.L7_ON_TCP,
                key,
                where,
                f"rule {rule.name} is left out for callers {caller}",
                hint="",
            )
            continue
        for http in https:
            permissions.append({"Action": action, "HTTP": http})
            names.append(rule.name)
        if https == [dict(_CATCH_ALL)]:
            break
    else:
        permissions.append({"Action": default, "HTTP": dict(_CATCH_ALL)})
        names.append("")
    source: dict[str, Any] = {"Name": caller}
    if permissions[0]["HTTP"] == _CATCH_ALL:
        # one action for every request: an L4 intention, which also holds for TCP
        source["Action"] = permissions[0]["Action"]
        return source, [(caller, names[0])]
    source["Permissions"] = permissions
    return source, [(f"{caller}#{j}", n) for j, n in enumerate(names)]


def _permission_http(
    rule: AuthzRule, key: str, where: tuple[str | int, ...], found: CompileContext
) -> list[dict[str, Any]]:
    op = rule.to
    if op is None:
        return [dict(_CATCH_ALL)]
    common: dict[str, Any] = {}
    if op.methods:
        common["Methods"] = list(op.methods)
    if op.headers:
        deny = rule.action is AuthzAction.DENY
        common["Header"] = [
            _header(h, deny, key, (*where, "headers", j), found) for j, h in enumerate(op.headers)
        ]
    paths = [c for p in op.paths for c in path_conditions(p)] if op.paths else [{}]
    out = []
    for path in paths:
        http = {**path, **copy.deepcopy(common)}
        out.append(http or dict(_CATCH_ALL))
    return out


def _header(
    h: HeaderMatch, deny: bool, key: str, where: tuple[str | int, ...], found: CompileContext
) -> dict[str, Any]:
    if h.present:
        return {"Name": h.name, "Present": True}
    if deny and h.exact is not None:
        return {"Name": h.name, "Regex": element_regex(_re2_escape(h.exact))}
    if deny and h.prefix is not None:
        return {"Name": h.name, "Regex": element_regex(_re2_escape(h.prefix) + "[^,]*")}
    if deny:
        found.report(
            C.AUTHZ_DENY_REGEX_ELEMENT,
            key,
            (*where, "regex"),
            "the regex is tested against each whole line: a value listed between others in one "
            "line gets through",
            hint="use exact or prefix, which the compiler turns into element regexes",
        )
        return {"Name": h.name, "Regex": h.regex}
    found.report(
        C.AUTHZ_ALLOW_HEADER_LINES,
        key,
        where,
        f"a request that sends {h.name} twice is allowed when one line matches",
        hint="allow on identities, paths and methods; keep header conditions for DENY rules",
    )
    if h.exact is not None:
        return {"Name": h.name, "Exact": h.exact}
    if h.prefix is not None:
        return {"Name": h.name, "Prefix": h.prefix}
    return {"Name": h.name, "Regex": h.regex}


def element_regex(body: str) -> str:
    """Holds for a line with one comma-separated element (spaces and tabs around it
    ignored) that matches `body`: the spec's DENY reading of a header value."""
    return f"(.*,)?[ \\t]*{body}[ \\t]*(,.*)?"


def _re2_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$" else c for c in text)

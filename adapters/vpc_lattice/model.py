"""VPC Lattice's behaviour over the AWS Gateway API controller's objects (v2.1.3): an
independent reading of the controller's source and of the VPC Lattice user guide.

Sources:
* docs.aws.amazon.com/vpc-lattice/latest/ug/listener-rules.html: rules are evaluated in
  priority order, lowest value first; the default rule last; forward actions split over
  target groups by weights 0-999 (relative);
* aws/aws-application-networking-k8s v2.1.3 `pkg/gateway/model_build_rule.go`
  (`buildRules`): rule `i` of an HTTPRoute gets priority `i + 1` (no priority
  annotations are written here), one match per rule, no match means prefix `/`,
  exact header matches only (at most 5), no query matches; invalid backendRefs are
  skipped and a rule left without target groups answers a fixed 500
  (`pkg/deploy/lattice/rule_manager.go`, `InvalidBackendRefFixedResponseStatusCode`);
* `pkg/deploy/lattice/rule_manager.go` (`updateMatchFromRule`): paths compare
  case-sensitively (`CaseSensitive: true`; the docs' "case-insensitive" is older),
  header values case-insensitively (`CaseSensitive: false`);
* `pkg/deploy/lattice/listener_manager.go`: an HTTP listener's default action is a fixed
  404, so a request no rule matches gets 404;
* the PathPrefix value is read as a plain string prefix (Lattice's `PathMatchType`
  `prefix`); the compiler writes prefixes that mean the same under a segment reading;
* no retries and no request timeout are configured (the controller reads neither
  HTTPRoute field): none is reported;
* IAM auth (docs `iam-auth-policy.md`; docs.aws.amazon.com/vpc-lattice/latest/ug/
  auth-policies.html): a policy on the route's service is evaluated per request before
  forwarding; an explicit Deny wins, then an Allow, else the request is denied (403).
  Neither says whether a request no rule matches is checked first: the model takes the
  listener rule first (404), then the auth policy;
  A mesh client signs with its EKS Pod Identity role, whose session tags name its
  namespace and service account;
* IAM auth checks service-network traffic only; a client outside the mesh (no source)
  reaches the pods directly: no route, no auth. There is no mutual TLS: traffic is
  reported as plaintext with mode DISABLE.
Paths are matched as sent: neither the controller nor Lattice documents normalisation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters import _gamma as G
from adapters import _gamma_model as M
from adapters.vpc_lattice import resources as R
from meshspec.adapter import Topology, Verdict, Workload
from meshspec.semantics import Outcome, Request
from meshspec.semantics.mtls import Transport
from meshspec.spec import MtlsMode

_PLAIN = {"mtls": MtlsMode.DISABLE, "transport": Transport.PLAINTEXT}
#: the native name of an implicit deny (no statement allowed the request)
IMPLICIT = "implicit-deny"


@dataclass(frozen=True)
class AuthPolicy:
    """An IAMAuthPolicy attached to one HTTPRoute: its statements in order."""

    namespace: str
    name: str
    route: str
    statements: tuple[Mapping[str, Any], ...]


def _headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Lower-case names to values, repeated lines joined with `,`, whitespace trimmed."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        values = [value] if isinstance(value, str) else list(value)
        joined = ",".join(v.strip(" \t") for v in values)
        key = name.lower()
        out[key] = f"{out[key]},{joined}" if key in out else joined
    return out


def matches(m: G.NativeMatch, method: str, path: str, headers: Mapping[str, str]) -> bool:
    """One Lattice rule condition (controller v2.1.3 `updateMatchFromRule`)."""
    if m.path_type == "Exact":
        if path != m.path_value:
            return False
    elif m.path_type == "PathPrefix":
        if not path.startswith(m.path_value):
            return False
    else:  # the controller rejects other path types: the rule is never written
        return False
    if m.method is not None and m.method != method:
        return False
    for kind, name, value in m.headers:
        got = headers.get(name)
        if kind != "Exact" or got is None or got.lower() != value.lower():
            return False
    return not m.query


def auth_policies(resources: Sequence[Mapping[str, Any]]) -> list[AuthPolicy]:
    out = []
    for r in resources:
        if r.get("kind") != "IAMAuthPolicy" or r.get("apiVersion") != R.POLICY_API:
            continue
        meta, spec = r.get("metadata") or {}, r.get("spec") or {}
        ref = spec.get("targetRef") or {}
        if ref.get("kind") != "HTTPRoute":
            continue
        try:
            document = json.loads(str(spec.get("policy", "")))
        except ValueError:
            continue
        statements = document.get("Statement", []) if isinstance(document, dict) else []
        if isinstance(statements, dict):
            statements = [statements]
        out.append(
            AuthPolicy(
                namespace=str(meta.get("namespace") or "default"),
                name=str(meta.get("name", "")),
                route=str(ref.get("name", "")),
                statements=tuple(s for s in statements if isinstance(s, dict)),
            )
        )
    return out


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def condition_holds(condition: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
    """IAM condition operators the compiler writes, over the principal's context keys
    (`aws:PrincipalTag/...`, `aws:PrincipalType`); an unknown operator never holds."""
    for operator, pairs in condition.items():
        for key, expected in dict(pairs).items():
            got = tags.get(key)
            if operator == "StringEquals":
                ok = got is not None and got in _values(expected)
            elif operator == "StringEqualsIgnoreCase":
                ok = got is not None and got.lower() in [v.lower() for v in _values(expected)]
            elif operator == "Null":
                ok = (got is None) == (str(expected).lower() == "true")
            else:
                ok = False
            if not ok:
                return False
    return True


def evaluate(policy: AuthPolicy, tags: Mapping[str, str]) -> tuple[bool, str]:
    """(allowed, the statement that decided): explicit Deny, then Allow, else deny."""
    applies = [
        s
        for s in policy.statements
        if s.get("Principal") == "*" and condition_holds(s.get("Condition") or {}, tags)
    ]
    for effect in ("Deny", "Allow"):
        for s in applies:
            if s.get("Effect") == effect:
                return effect == "Allow", f"{policy.namespace}/{policy.name}#{s.get('Sid', '')}"
    return False, f"{policy.namespace}/{policy.name}#{IMPLICIT}"


class LatticeModel:
    def __init__(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> None:
        self.topology = topology
        self.routes = [
            r for r in M.routes_of(resources) if any(p.kind == "Gateway" for p in r.parents)
        ]
        self.policies = auth_policies(resources)
        self.sections = _sections(resources)

    def route_for(self, workload: Workload, port: int) -> G.HttpRoute | None:
        """The Lattice service of a Kubernetes service's port: its route on that listener."""
        names = {workload.name, G.route_name_of(workload.name, port, True)}
        for route in self.routes:
            if (
                route.namespace == workload.namespace
                and route.name in names
                and R.listener_name(port) in self.sections.get(route.key, set())
            ):
                return route
        return None

    def decide(self, request: Request) -> Verdict:
        reached = M.address(self.topology, request)
        if isinstance(reached, Verdict):
            return reached
        source, key = reached.source, reached.key
        workload, port = reached.workload, reached.port
        headers = _headers(request.headers)
        if source is None:  # no service network in the path: straight to the pods
            return Verdict(
                Outcome.FORWARDED,
                None,
                backends={(key, None): 1.0},
                authz="allow",
                headers=headers,
                **_PLAIN,  # type: ignore[arg-type]
            )
        route = self.route_for(workload, port)
        if route is None:
            return Verdict(Outcome.UNKNOWN_SERVICE, None)
        path, _ = M.split_target(request.target)
        index = next(
            (
                i
                for i, native in enumerate(route.rules)
                if any(matches(m, request.method, path, headers) for m in native.matches)
            ),
            None,
        )
        if index is None:
            return Verdict(Outcome.NO_ROUTE, 404)
        authz, rule = "allow", None
        policy = next(
            (p for p in self.policies if p.namespace == route.namespace and p.route == route.name),
            None,
        )
        if policy is not None:
            client = self.topology.workloads[source]
            tags = {
                "aws:PrincipalTag/kubernetes-namespace": client.namespace,
                "aws:PrincipalTag/kubernetes-service-account": client.service_account,
                "aws:PrincipalType": "AssumedRole",
            }
            allowed, rule = evaluate(policy, tags)
            authz = "allow" if allowed else "deny"
        return self._forward(route, index, route.rules[index], headers, authz, rule)

    def _forward(
        self,
        route: G.HttpRoute,
        index: int,
        rule: G.Rule,
        headers: dict[str, str],
        authz: str,
        authz_rule: str | None,
    ) -> Verdict:
        name = f"{route.key}#{index}"
        valid = [b for b in rule.backends if M.backend_key(self.topology, b) is not None]
        shares, _ = M.shares(self.topology, G.Rule(rule.matches, tuple(valid)))
        if not shares:
            return Verdict(
                Outcome.UNAVAILABLE,
                500,
                route=name,
                authz=authz,
                authz_rule=authz_rule,
                **_PLAIN,  # type: ignore[arg-type]
            )
        denied = authz == "deny"
        return Verdict(
            Outcome.DENIED if denied else Outcome.FORWARDED,
            403 if denied else None,
            route=name,
            backends=shares,
            authz=authz,
            authz_rule=authz_rule,
            headers=None if denied else headers,
            **_PLAIN,  # type: ignore[arg-type]
        )


def _sections(resources: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """`namespace/route` -> the Gateway listeners (`sectionName`) it attaches to."""
    out: dict[str, set[str]] = {}
    for r in resources:
        if r.get("kind") != G.HTTPROUTE:
            continue
        meta, spec = r.get("metadata") or {}, r.get("spec") or {}
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
        for p in spec.get("parentRefs") or []:
            if p.get("kind", "Gateway") == "Gateway" and p.get("sectionName"):
                out.setdefault(key, set()).add(str(p["sectionName"]))
    return out



def neutral_names(resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Route rules (`namespace/route#rule`) and IAM statements (`namespace/policy#Sid`)
    -> the neutral route or authorization rule they hold (empty: a default)."""
    out = M.neutral_names(resources)
    for r in resources:
        if r.get("kind") != "IAMAuthPolicy":
            continue
        meta = r.get("metadata") or {}
        prefix = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}#"
        annotation = str((meta.get("annotations") or {}).get(R.RULES_ANNOTATION, ""))
        for pair in filter(None, annotation.split(",")):
            sid, _, name = pair.partition("=")
            out[prefix + sid] = name
        out[prefix + IMPLICIT] = ""
    return out

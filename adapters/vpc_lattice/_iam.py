"""Neutral authorization -> a VPC Lattice auth policy (IAM JSON) for the addressed
service's HTTPRoute, where the principals can be said in IAM terms.

A mesh workload signs its requests (SigV4) with the IAM role EKS Pod Identity gives its
service account; the role session carries the tags `kubernetes-namespace` and
`kubernetes-service-account` (docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html),
which an auth policy reads as `aws:PrincipalTag/...`. An unsigned request is the
principal type `anonymous` (docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html,
"Common elements", `aws:PrincipalType`). IAM's evaluation is the spec's DENY-then-ALLOW
order: an explicit Deny wins, then any Allow, else the implicit deny.

What IAM principals cannot say (methods, paths and headers of `to`, SPIFFE identities of
another trust domain) fails closed: an ALLOW loses the rule, a DENY loses the condition
and denies more; either way an `authz` error names it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from meshspec.spec import AuthzAction, DefaultAction, Spec
from meshspec.spec.authz import AuthzRule, Source
from meshspec.spec.bundle import PathKey, parse_spiffe_id

NS_TAG = "aws:PrincipalTag/kubernetes-namespace"
SA_TAG = "aws:PrincipalTag/kubernetes-service-account"
PRINCIPAL_TYPE = "aws:PrincipalType"
ACTION = "vpc-lattice-svcs:Invoke"
#: the Sid of the statement that stands for `default: allow`
DEFAULT_SID = "Default"
#: the Sid of the one Deny written when nothing is allowed (IAM wants a statement)
DENY_ALL_SID = "DenyAll"

#: (path, why) of a rule part that cannot be said; `identity` tells which code
Lost = Callable[[PathKey, str, bool], None]


def _statement(sid: str, effect: str, condition: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Sid": sid,
        "Effect": effect,
        "Principal": "*",
        "Action": ACTION,
        "Resource": "*",
    }
    if condition:
        out["Condition"] = condition
    return out


def _conditions(
    spec: Spec, namespace: str, source: Source, path: PathKey, lost: Lost
) -> list[dict[str, Any]] | None:
    """One IAM condition per principal the source names (ORed); None: not expressible."""
    if source.authenticated:
        # a pod identity of some EKS cluster: its session names a service account
        return [{"Null": {SA_TAG: "false"}}]
    if source.unauthenticated:
        return [{"StringEqualsIgnoreCase": {PRINCIPAL_TYPE: "anonymous"}}]
    if source.namespaces:
        return [{"StringEquals": {NS_TAG: sorted(source.namespaces)}}]
    pairs: list[tuple[str, str]] = []
    for ref in source.services:
        key = spec.resolve(ref, namespace)
        if key is None:
            continue
        pairs.append((spec.service(key).metadata.namespace, spec.service_account(key)))
    for ident in source.identities:
        parts = parse_spiffe_id(ident)
        if parts is None or parts[0] != spec.mesh.trust_domain:
            lost(
                (*path, "identities"),
                f"identity {ident} is not a workload of trust domain {spec.mesh.trust_domain}",
                True,
            )
            return None
        pairs.append((parts[1], parts[2]))
    return [{"StringEquals": {NS_TAG: ns, SA_TAG: sa}} for ns, sa in sorted(set(pairs))]


def policy(spec: Spec, key: str, lost: Lost) -> tuple[dict[str, Any], dict[str, str]]:
    """The IAM policy document and `Sid -> neutral rule name` (empty: the default)."""
    svc = spec.service(key)
    authz = svc.spec.authorization
    assert authz is not None
    namespace = svc.metadata.namespace
    statements: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    order = [r for r in authz.rules if r.action is AuthzAction.DENY] + [
        r for r in authz.rules if r.action is AuthzAction.ALLOW
    ]
    for rule in order:
        i = authz.rules.index(rule)
        for sid, condition in _rule_statements(spec, namespace, rule, i, lost):
            effect = "Deny" if rule.action is AuthzAction.DENY else "Allow"
            statements.append(_statement(sid, effect, condition))
            names[sid] = rule.name
    if authz.default is DefaultAction.ALLOW:
        statements.append(_statement(DEFAULT_SID, "Allow", None))
        names[DEFAULT_SID] = ""
    if not statements:
        statements.append(_statement(DENY_ALL_SID, "Deny", None))
        names[DENY_ALL_SID] = ""
    return {"Version": "2012-10-17", "Statement": statements}, names


def _rule_statements(
    spec: Spec, namespace: str, rule: AuthzRule, index: int, lost: Lost
) -> list[tuple[str, dict[str, Any] | None]]:
    path: PathKey = ("spec", "authorization", "rules", index)
    deny = rule.action is AuthzAction.DENY
    sid = f"Rule{index}"
    if rule.to is not None and (rule.to.methods or rule.to.paths or rule.to.headers):
        if not deny:
            lost((*path, "to"), f"ALLOW rule {rule.name} names methods, paths or headers", False)
            return []
        lost((*path, "to"), f"DENY rule {rule.name} denies every request of its sources", False)
    if not rule.from_:
        return [(sid, None)]
    out: list[tuple[str, dict[str, Any] | None]] = []
    for j, source in enumerate(rule.from_):
        conditions = _conditions(spec, namespace, source, (*path, "from", j), lost)
        if conditions is None:
            if deny:  # fail closed: deny everyone rather than let the source through
                return [(sid, None)]
            continue
        for k, condition in enumerate(conditions):
            out.append((f"{sid}From{j}P{k}", condition))
    return out


def policy_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False)

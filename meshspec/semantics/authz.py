"""Whether the receiving service lets a request in, and which rule decided.

Order: the first DENY rule that matches denies; otherwise the first ALLOW
rule that matches allows; otherwise the service's `default` decides (allow
when the service has no authorization block). A rule matches when any of
its sources matches (no sources: any peer) and its `to` conditions hold.
Identity-based sources only match a peer that presented a certificate, so
a plaintext connection is always "unauthenticated". Header values are read as
`headers.py` defines: a DENY condition also holds on any comma-separated element
of a header's combined value, so padding or repeating a header never dodges it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from meshspec.semantics.matching import header_matches, path_matches
from meshspec.semantics.paths import NormalizedTarget
from meshspec.spec import AuthzAction, AuthzRule, DefaultAction, Source, Spec, parse_spiffe_id


class AuthzOutcome(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True)
class AuthzDecision:
    decision: AuthzOutcome
    rule: str | None
    reason: str

    @property
    def allowed(self) -> bool:
        return self.decision is AuthzOutcome.ALLOW

    def to_json(self) -> dict[str, object]:
        return {"decision": str(self.decision), "rule": self.rule, "reason": self.reason}


# Frozen, so one instance can answer every request that has no policy.
_NO_POLICY = AuthzDecision(AuthzOutcome.ALLOW, None, "no authorization policy")


def source_matches(spec: Spec, namespace: str, src: Source, peer: str | None) -> bool:
    if src.unauthenticated:
        return peer is None
    if peer is None:
        return False
    if src.authenticated:
        return True
    if src.identities:
        return peer in src.identities
    if src.namespaces:
        parsed = parse_spiffe_id(peer)
        return (
            parsed is not None
            and parsed[0] == spec.mesh.trust_domain
            and parsed[1] in src.namespaces
        )
    for ref in src.services:
        key = spec.resolve(ref, namespace)
        if key is not None and spec.identity(key) == peer:
            return True
    return False


def rule_matches(
    spec: Spec,
    namespace: str,
    rule: AuthzRule,
    peer: str | None,
    method: str,
    target: NormalizedTarget,
    headers: Mapping[str, str],
) -> bool:
    if rule.from_ and not any(source_matches(spec, namespace, s, peer) for s in rule.from_):
        return False
    op = rule.to
    if op is None:
        return True
    if op.methods and method not in op.methods:
        return False
    if op.paths and not any(path_matches(p, target.path) for p in op.paths):
        return False
    deny = rule.action is AuthzAction.DENY
    return all(header_matches(h, headers, deny=deny) for h in op.headers)


def authorize(
    spec: Spec,
    service_key: str,
    peer: str | None,
    method: str,
    target: NormalizedTarget,
    headers: Mapping[str, str],
) -> AuthzDecision:
    svc = spec.service(service_key)
    authz = svc.spec.authorization
    if authz is None:
        return _NO_POLICY
    ns = svc.metadata.namespace
    for action in (AuthzAction.DENY, AuthzAction.ALLOW):
        for rule in authz.rules:
            if rule.action is action and rule_matches(
                spec, ns, rule, peer, method, target, headers
            ):
                outcome = AuthzOutcome.DENY if action is AuthzAction.DENY else AuthzOutcome.ALLOW
                return AuthzDecision(outcome, rule.name, f"{action} rule matched")
    if authz.default is DefaultAction.DENY:
        return AuthzDecision(AuthzOutcome.DENY, None, "no rule matched; default deny")
    return AuthzDecision(AuthzOutcome.ALLOW, None, "no rule matched; default allow")

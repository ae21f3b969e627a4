"""AuthorizationPolicy as a server sidecar evaluates it.

Source: istio/api `security/v1beta1/authorization_policy.proto` and istio.io
concepts/security "Authorization policy precedence". Policies apply to a workload
from its own namespace (no selector: all workloads there) and from the root
namespace (mesh-wide, optionally narrowed by a selector). Order: CUSTOM (an external
authorizer: not modelled, ignored), then any matching DENY denies, then allow when
no ALLOW policy applies, then any matching ALLOW allows, else deny. A policy with
no rules matches nothing (so `spec: {}` ALLOW denies all); an empty rule `{}`
matches everything. Inside a rule: some `from` and some `to` and every `when` must
hold; fields inside a source/operation are ANDed, values inside a field ORed, and
`not*` fields must match none. Principal and namespace conditions need an mTLS peer
(a plaintext peer has no principal). The principal `cluster.local/...` stands for
the mesh's own trust domain (trust domain aliasing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from adapters.istio._model_names import security_string_match, selector_matches
from adapters.istio.resources import ROOT_NAMESPACE


@dataclass(frozen=True)
class Peer:
    """The facts a server sidecar knows about the request."""

    principal: str | None  # without `spiffe://`; None for plaintext
    method: str
    path: str
    headers: Mapping[str, tuple[str, ...]]  # each line, trimmed (`envoy_header_lines`)
    port: int  # the workload port the request arrived on (the Service's targetPort)
    host: str
    trust_domain: str

    @cached_property
    def namespace(self) -> str | None:
        if self.principal is None:
            return None
        parts = self.principal.split("/")
        return parts[2] if len(parts) == 5 and parts[1] == "ns" else None


@dataclass(frozen=True)
class AuthzResult:
    allowed: bool
    rule: str | None


def applicable(
    resources: Sequence[Mapping[str, Any]], namespace: str, labels: Mapping[str, str]
) -> list[Mapping[str, Any]]:
    out = []
    for res in resources:
        if res.get("kind") != "AuthorizationPolicy":
            continue
        ns = str((res.get("metadata") or {}).get("namespace") or "default")
        spec = res.get("spec") or {}
        if ns in (namespace, ROOT_NAMESPACE) and selector_matches(spec.get("selector"), labels):
            out.append(res)
    return out


def evaluate(policies: Sequence[Mapping[str, Any]], peer: Peer) -> AuthzResult:
    def action(res: Mapping[str, Any]) -> str:
        return str((res.get("spec") or {}).get("action") or "ALLOW").upper()

    actions = [action(res) for res in policies]
    for res, act in zip(policies, actions, strict=True):
        if act == "DENY":
            hit = _matching_rule(res, peer)
            if hit is not None:
                return AuthzResult(False, hit)
    allows = [res for res, act in zip(policies, actions, strict=True) if act == "ALLOW"]
    if not allows:
        return AuthzResult(True, None)
    for res in allows:
        hit = _matching_rule(res, peer)
        if hit is not None:
            return AuthzResult(True, hit)
    return AuthzResult(False, None)


def _matching_rule(res: Mapping[str, Any], peer: Peer) -> str | None:
    rules = (res.get("spec") or {}).get("rules") or []
    for index, rule in enumerate(rules):
        if _rule_holds(rule or {}, peer):
            meta = res.get("metadata") or {}
            name = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
            return name if len(rules) == 1 else f"{name}#{index}"
    return None


def _rule_holds(rule: Mapping[str, Any], peer: Peer) -> bool:
    sources = rule.get("from") or []
    if sources and not any(_source_holds(s.get("source") or {}, peer) for s in sources):
        return False
    operations = rule.get("to") or []
    if operations and not any(_operation_holds(o.get("operation") or {}, peer) for o in operations):
        return False
    return all(_condition_holds(c, peer) for c in rule.get("when") or [])


def _field(
    spec: Mapping[str, Any], name: str, value: str | None, test: Callable[[str, str | None], bool]
) -> bool:
    """`name` (some value matches) and `notName` (no value matches) both hold."""
    positive = spec.get(name)
    if positive is not None and not any(test(str(p), value) for p in positive):
        return False
    negative = spec.get(_negated(name))
    return not (negative is not None and any(test(str(p), value) for p in negative))


@cache
def _negated(name: str) -> str:
    return "not" + name[0].upper() + name[1:]


@cache
def _principal_match(trust_domain: str) -> Callable[[str, str | None], bool]:
    def test(pattern: str, value: str | None) -> bool:
        if pattern.startswith("cluster.local/"):
            pattern = trust_domain + pattern[len("cluster.local") :]
        return security_string_match(pattern, value)

    return test


def _service_account_match(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    parts = value.split("/")
    return len(parts) == 5 and f"{parts[2]}/{parts[4]}" == pattern


def _source_holds(src: Mapping[str, Any], peer: Peer) -> bool:
    return (
        _field(src, "principals", peer.principal, _principal_match(peer.trust_domain))
        and _field(src, "namespaces", peer.namespace, security_string_match)
        and _field(src, "serviceAccounts", peer.principal, _service_account_match)
        # A request here carries no JWT and no address: those conditions never hold.
        and _field(src, "requestPrincipals", None, security_string_match)
        and _field(src, "ipBlocks", None, security_string_match)
        and _field(src, "remoteIpBlocks", None, security_string_match)
    )


def _operation_holds(op: Mapping[str, Any], peer: Peer) -> bool:
    return (
        _field(op, "methods", peer.method, security_string_match)
        and _field(op, "paths", peer.path, _path_match)
        and _field(op, "ports", str(peer.port), security_string_match)
        and _field(op, "hosts", peer.host, _host_match)
    )


def _host_match(pattern: str, value: str | None) -> bool:
    # hosts compare case-insensitively (CVE-2021-39155).
    return security_string_match(pattern.lower(), None if value is None else value.lower())


def _path_match(pattern: str, value: str | None) -> bool:
    """Paths: the string forms plus templates `{*}` (one segment) and `{**}` (the rest)."""
    if value is None:
        return False
    if "{*}" in pattern or "{**}" in pattern:
        parts = re.split(r"(\{\*\*\}|\{\*\})", pattern)
        rx = "".join(
            "[^/]+" if p == "{*}" else ".*" if p == "{**}" else re.escape(p) for p in parts
        )
        return re.fullmatch(rx, value) is not None
    return security_string_match(pattern, value)


_HEADER_KEY = re.compile(r"^request\.headers\[(.+)\]$")


def _condition_holds(cond: Mapping[str, Any], peer: Peer) -> bool:
    """A `when` condition; a header condition holds when some line of the header matches.

    Envoy's RBAC filter tests each line of a repeated header on its own, not the
    lines joined (see `_model_headers`); a header sent once has one line.
    """
    key = str(cond.get("key", ""))
    candidates: tuple[str, ...]
    header = _HEADER_KEY.match(key)
    if header:
        candidates = peer.headers.get(header.group(1).lower(), ())
    elif key == "source.principal":
        candidates = () if peer.principal is None else (peer.principal,)
    elif key == "source.namespace":
        candidates = () if peer.namespace is None else (peer.namespace,)
    elif key == "destination.port":
        candidates = (str(peer.port),)
    else:
        candidates = ()  # attributes this model does not know never match

    def some(patterns: Any) -> bool:
        return any(security_string_match(str(p), c) for p in patterns for c in candidates)

    values = cond.get("values")
    if values is not None and not some(values):
        return False
    not_values = cond.get("notValues")
    return not (not_values is not None and some(not_values))

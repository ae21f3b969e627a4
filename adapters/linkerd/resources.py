"""Linkerd's native resources, typed: parsed once from plain dicts so the model and the
importer read one shape, and written by the compiler through the same names.

Sources (linkerd/linkerd2 `charts/linkerd-crds/templates/policy/*.yaml` at
version-2.20; linkerd/website `content/2-edge/reference/authorization-policy.md`,
`reference/retries.md`, `reference/timeouts.md`, `reference/circuit-breaking.md`,
`reference/service-profiles.md`):
* `Server` (policy.linkerd.io/v1beta3): pods by `podSelector`, one `port` (number or
  name), `proxyProtocol` (default `unknown`: detected), `accessPolicy` (default `deny`)
  for traffic no AuthorizationPolicy admits;
* `AuthorizationPolicy` (v1alpha1): `targetRef` (Server, HTTPRoute, or Namespace) and
  `requiredAuthenticationRefs`, **all** of which must hold;
* `MeshTLSAuthentication`: `identities` (`*` = any meshed client, `*.`-prefixed
  wildcards) or `identityRefs` (ServiceAccounts); `NetworkAuthentication`: CIDRs with
  `except`, matched against the client's address whatever its TLS;
* annotations on a Service or on an HTTPRoute with a Service parent:
  `retry.linkerd.io/{http,grpc,limit,timeout}` (limit 1 when unset), and
  `timeout.linkerd.io/{request,response,idle}` (a route's retry or timeout annotations
  replace all of its Service's); failure accrual on the Service:
  `balancer.linkerd.io/failure-accrual: consecutive` and
  `balancer.linkerd.io/failure-accrual-consecutive-{max-failures,min-penalty,max-penalty,jitter-ratio}`.
Identities are `<sa>.<ns>.serviceaccount.identity.<control-plane ns>.<trust domain>`
or SPIFFE URIs (linkerd2 `policy-controller/runtime/src/validation.rs`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meshspec.durations import parse_duration

POLICY_GROUP = "policy.linkerd.io"
SERVER_API = f"{POLICY_GROUP}/v1beta3"
AUTHN_API = f"{POLICY_GROUP}/v1alpha1"
SERVER_AUTHZ_API = f"{POLICY_GROUP}/v1beta1"
PROFILE_API = "linkerd.io/v1alpha2"
#: inbound routes (Server parents): Linkerd's own HTTPRoute, the kind its docs use there
INBOUND_ROUTE_API = f"{POLICY_GROUP}/v1beta3"
CONTROL_PLANE_NS = "linkerd"

RETRY_HTTP = "retry.linkerd.io/http"
RETRY_GRPC = "retry.linkerd.io/grpc"
RETRY_LIMIT = "retry.linkerd.io/limit"
RETRY_TIMEOUT = "retry.linkerd.io/timeout"
TIMEOUT_REQUEST = "timeout.linkerd.io/request"
TIMEOUT_RESPONSE = "timeout.linkerd.io/response"
TIMEOUT_IDLE = "timeout.linkerd.io/idle"
ACCRUAL = "balancer.linkerd.io/failure-accrual"
ACCRUAL_PREFIX = "balancer.linkerd.io/failure-accrual-consecutive-"
ACCRUAL_MAX_FAILURES = ACCRUAL_PREFIX + "max-failures"
ACCRUAL_MIN_PENALTY = ACCRUAL_PREFIX + "min-penalty"
ACCRUAL_MAX_PENALTY = ACCRUAL_PREFIX + "max-penalty"
ACCRUAL_JITTER = ACCRUAL_PREFIX + "jitter-ratio"
#: `failure-accrual-consecutive-*` defaults (website `reference/circuit-breaking.md`)
ACCRUAL_DEFAULTS = {"max-failures": 7, "min-penalty": 1.0, "max-penalty": 60.0}
#: Known prefixes of annotations the importer reads (others of these prefixes are reported)
LINKERD_ANNOTATION_PREFIXES = ("retry.linkerd.io/", "timeout.linkerd.io/", "balancer.linkerd.io/")
#: `retry.linkerd.io/limit` when only other retry annotations are set
DEFAULT_RETRY_LIMIT = 1
#: fixed by the control plane (linkerd2 `policy-controller/grpc/src/outbound/http.rs`)
RETRY_MAX_BODY = 64 * 1024


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _meta(doc: Mapping[str, Any]) -> tuple[str, str, dict[str, str]]:
    meta = _map(doc.get("metadata"))
    annotations = {str(k): str(v) for k, v in _map(meta.get("annotations")).items()}
    return str(meta.get("namespace") or "default"), str(meta.get("name", "")), annotations


# --- identities -------------------------------------------------------------


def identity(service_account: str, namespace: str, trust_domain: str) -> str:
    """A workload's identity as Linkerd's identity controller issues it."""
    return (
        f"{service_account}.{namespace}.serviceaccount.identity.{CONTROL_PLANE_NS}.{trust_domain}"
    )


def namespace_wildcard(namespace: str, trust_domain: str) -> str:
    return f"*.{namespace}.serviceaccount.identity.{CONTROL_PLANE_NS}.{trust_domain}"


def parse_identity(value: str) -> tuple[str, str, str] | None:
    """(service account, namespace, trust domain) of a Linkerd identity or workload SPIFFE ID."""
    if value.startswith("spiffe://"):
        parts = value[len("spiffe://") :].split("/")
        if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa":
            return parts[4], parts[2], parts[0]
        return None
    marker = f".serviceaccount.identity.{CONTROL_PLANE_NS}."
    head, sep, td = value.partition(marker)
    if not sep or head.count(".") != 1:
        return None
    sa, ns = head.split(".")
    return sa, ns, td


def identity_matches(pattern: str, peer: str) -> bool:
    """`*` is any meshed client; `*.rest` any identity ending in `.rest`; else exact."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return peer.endswith(pattern[1:])
    return peer == pattern


# --- policy resources -----------------------------------------------------------


@dataclass(frozen=True)
class Server:
    namespace: str
    name: str
    match_labels: Mapping[str, str]
    #: a selector with matchExpressions is read as selecting nothing it cannot prove
    match_expressions: bool
    port: int | str
    proxy_protocol: str = "unknown"
    access_policy: str = "deny"

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> Server:
        ns, name, _ = _meta(doc)
        spec = _map(doc.get("spec"))
        selector = _map(spec.get("podSelector"))
        port = spec.get("port", 0)
        return cls(
            namespace=ns,
            name=name,
            match_labels={str(k): str(v) for k, v in _map(selector.get("matchLabels")).items()},
            match_expressions=bool(selector.get("matchExpressions")),
            port=port if isinstance(port, int) else str(port),
            proxy_protocol=str(spec.get("proxyProtocol", "unknown")),
            access_policy=str(spec.get("accessPolicy", "deny")),
        )

    def selects(self, labels: Mapping[str, str], port: int, port_names: Mapping[int, str]) -> bool:
        if self.match_expressions:
            return False
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        return self.port == port or (
            isinstance(self.port, str) and port_names.get(port) == self.port
        )


@dataclass(frozen=True)
class Ref:
    kind: str
    name: str
    namespace: str
    group: str = ""


@dataclass(frozen=True)
class AuthorizationPolicy:
    namespace: str
    name: str
    target: Ref
    required: tuple[Ref, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> AuthorizationPolicy:
        ns, name, annotations = _meta(doc)
        spec = _map(doc.get("spec"))
        t = _map(spec.get("targetRef"))
        target = Ref(
            str(t.get("kind", "")),
            str(t.get("name", "")),
            str(t.get("namespace") or ns),
            str(t.get("group", "")),
        )
        required = tuple(
            Ref(
                str(r.get("kind", "")),
                str(r.get("name", "")),
                str(r.get("namespace") or ns),
                str(r.get("group", "")),
            )
            for r in map(_map, _seq(spec.get("requiredAuthenticationRefs")))
        )
        return cls(ns, name, target, required, annotations)


@dataclass(frozen=True)
class MeshTLSAuthentication:
    namespace: str
    name: str
    identities: tuple[str, ...]
    #: (kind, name or None for all of that kind, namespace)
    identity_refs: tuple[tuple[str, str | None, str], ...] = ()

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> MeshTLSAuthentication:
        ns, name, _ = _meta(doc)
        spec = _map(doc.get("spec"))
        refs = tuple(
            (
                str(r.get("kind", "")),
                None if r.get("name") is None else str(r.get("name")),
                str(r.get("namespace") or ns),
            )
            for r in map(_map, _seq(spec.get("identityRefs")))
        )
        return cls(ns, name, tuple(str(i) for i in _seq(spec.get("identities"))), refs)

    def admits(self, peer: tuple[str, str, str] | None, peer_identity: str | None) -> bool:
        """A meshed client whose identity is listed (or whose ServiceAccount is referred to)."""
        if peer is None or peer_identity is None:
            return False
        if any(identity_matches(p, peer_identity) for p in self.identities):
            return True
        sa, ns, _ = peer
        for kind, name, namespace in self.identity_refs:
            if kind == "ServiceAccount" and namespace == ns and name in (None, sa):
                return True
            if kind == "Namespace" and name in (None, ns):
                return True
        return False


@dataclass(frozen=True)
class NetworkAuthentication:
    namespace: str
    name: str
    networks: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> NetworkAuthentication:
        ns, name, _ = _meta(doc)
        nets = tuple(
            (str(n.get("cidr", "")), tuple(str(e) for e in _seq(n.get("except"))))
            for n in map(_map, _seq(_map(doc.get("spec")).get("networks")))
        )
        return cls(ns, name, nets)

    def admits(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        for cidr, excepts in self.networks:
            try:
                if ip in ipaddress.ip_network(cidr, strict=False) and not any(
                    ip in ipaddress.ip_network(e, strict=False) for e in excepts
                ):
                    return True
            except ValueError:
                continue
        return False

    @property
    def everywhere(self) -> bool:
        """Admits every address (IPv4 and IPv6): any client at all."""
        full = {("0.0.0.0/0", ()), ("::/0", ())}
        return full <= set(self.networks)


# --- annotations ----------------------------------------------------------------


@dataclass(frozen=True)
class RetryConfig:
    """`retry.linkerd.io/*` as the policy controller reads it."""

    statuses: tuple[tuple[int, int], ...] = ()
    grpc: tuple[str, ...] = ()
    limit: int = DEFAULT_RETRY_LIMIT
    timeout: float | None = None
    limit_given: bool = False

    @classmethod
    def parse(cls, annotations: Mapping[str, str]) -> RetryConfig | None:
        """None when no retry annotation is set (no retries); raises ValueError on bad values."""
        if not any(k in annotations for k in (RETRY_HTTP, RETRY_GRPC, RETRY_LIMIT, RETRY_TIMEOUT)):
            return None
        statuses = tuple(parse_status_ranges(annotations.get(RETRY_HTTP, "")))
        grpc = tuple(c.strip() for c in annotations.get(RETRY_GRPC, "").split(",") if c.strip())
        limit_text = annotations.get(RETRY_LIMIT)
        limit = DEFAULT_RETRY_LIMIT if limit_text is None else int(limit_text)
        timeout_text = annotations.get(RETRY_TIMEOUT)
        timeout = None if timeout_text is None else parse_duration(timeout_text)
        return cls(statuses, grpc, limit, timeout, limit_text is not None)


def parse_status_ranges(text: str) -> list[tuple[int, int]]:
    """`5xx` (500-599), `gateway-error` (502-504), `xxx` and `xxx-yyy`."""
    out: list[tuple[int, int]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part == "5xx":
            out.append((500, 599))
        elif part == "gateway-error":
            out.append((502, 504))
        elif "-" in part:
            lo, hi = part.split("-", 1)
            out.append((int(lo), int(hi)))
        else:
            out.append((int(part), int(part)))
    return out


@dataclass(frozen=True)
class TimeoutConfig:
    request: float | None = None
    response: float | None = None
    idle: float | None = None

    @classmethod
    def parse(cls, annotations: Mapping[str, str]) -> TimeoutConfig | None:
        keys = (TIMEOUT_REQUEST, TIMEOUT_RESPONSE, TIMEOUT_IDLE)
        if not any(k in annotations for k in keys):
            return None
        values = [annotations.get(k) for k in keys]
        parsed = [None if v is None else parse_duration(v) for v in values]
        return cls(*parsed)


@dataclass(frozen=True)
class FailureAccrual:
    max_failures: int
    min_penalty: float
    max_penalty: float

    @classmethod
    def parse(cls, annotations: Mapping[str, str]) -> FailureAccrual | None:
        if annotations.get(ACCRUAL) != "consecutive":
            return None
        return cls(
            int(annotations.get(ACCRUAL_MAX_FAILURES, ACCRUAL_DEFAULTS["max-failures"])),
            parse_duration(annotations[ACCRUAL_MIN_PENALTY])
            if ACCRUAL_MIN_PENALTY in annotations
            else float(ACCRUAL_DEFAULTS["min-penalty"]),
            parse_duration(annotations[ACCRUAL_MAX_PENALTY])
            if ACCRUAL_MAX_PENALTY in annotations
            else float(ACCRUAL_DEFAULTS["max-penalty"]),
        )


def annotations_of(doc: Mapping[str, Any]) -> dict[str, str]:
    return _meta(doc)[2]

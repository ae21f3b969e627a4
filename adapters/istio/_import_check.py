"""Does the imported spec let in a request Istio keeps out? Asked, not assumed.

The importer translates rule by rule; this check looks at the result as a whole.
For each imported service, each set of pod labels it runs with, each port, and
probe requests built from the values the Istio policies name (principals,
namespaces, methods, paths, header values, plus one of each that no policy
names), it compares two independent answers: the Istio model's reading of the
input resources (`_model_authz`, `_model_mtls`) and the oracle's reading of the
imported spec. A request the oracle allows and Istio denies, or a port whose
neutral mTLS mode is weaker than Istio's, is an error naming that request
(decisions.md §9); the reverse is a warning. The model is not made to agree with
anything here: the two are only compared.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.istio import import_codes as C
from adapters.istio._import_context import ImportContext, PathKey, ServiceDraft
from adapters.istio._model_authz import Peer, applicable, evaluate
from adapters.istio._model_mtls import server_mode
from adapters.istio._model_selectors import SelectorIndex, selector_of
from adapters.istio.resources import ROOT_NAMESPACE, TARGET
from adapters.kit.import_context import native_finding
from meshspec.adapter import NativeDocument
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.semantics import (
    NormalizedTarget,
    RejectedTarget,
    authorize,
    normalize_target,
    port_mode,
)
from meshspec.spec import MtlsMode, Spec

#: Probes per service at most; the values come first, so the cut keeps the varied ones.
MAX_PROBES = 20000
_STRENGTH = {MtlsMode.DISABLE: 0, MtlsMode.PERMISSIVE: 1, MtlsMode.STRICT: 2}
_OUTSIDER_NS = "probe-elsewhere"


def effective(docs: Sequence[NativeDocument]) -> list[Mapping[str, Any]]:
    """The policies a sidecar enforces: dry-run policies only log and policies with
    `targetRefs` bind to gateways and waypoints, not sidecars (istio.io
    docs/reference/config/security/authorization-policy)."""
    out = []
    for doc in docs:
        if doc.kind not in ("AuthorizationPolicy", "PeerAuthentication"):
            continue
        meta = doc.data.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        spec = doc.data.get("spec") or {}
        if doc.kind == "AuthorizationPolicy" and (
            str(annotations.get("istio.io/dry-run", "")).lower() == "true"
            or spec.get("targetRefs")
            or spec.get("targetRef")
        ):
            continue
        out.append(doc.data)
    return out


@dataclass(frozen=True)
class Probe:
    principal: str | None
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]


def check_import(
    ctx: ImportContext, docs: Sequence[NativeDocument], spec: Spec
) -> list[Diagnostic]:
    policies = _index(effective(docs))
    sources = _Sources(docs)
    found: list[Diagnostic] = []
    identities = _identities(spec)
    for key, draft in sorted(ctx.services.items()):
        if key not in spec.services:
            continue
        # Policies apply from the workload's namespace and the root namespace only.
        scope = list(dict.fromkeys([draft.namespace, ROOT_NAMESPACE]))
        label_sets = _label_sets(draft, policies.not_other_app(scope, draft.name))
        # The policies that can select each set of pods, looked up (not the namespace's
        # every policy): the model reads them as it would read the namespace's.
        resources = [policies.selecting(scope, labels) for labels in label_sets]
        # Only the policies that select this service's pods name values that matter.
        mine: list[Mapping[str, Any]] = []
        for labels, candidates in zip(label_sets, resources, strict=True):
            mine += [p for p in applicable(candidates, draft.namespace, labels) if p not in mine]
        requests = _requests(list(_probes(mine, spec, identities, draft.namespace)))
        # Pods that the same policies select get the same answers: ask once.
        seen: list[tuple[list[int], list[int]]] = []
        for labels, candidates in zip(label_sets, resources, strict=True):
            selected = (
                [id(p) for p in applicable(candidates, draft.namespace, labels)],
                [id(p) for p in _peer_policies(candidates, draft.namespace, labels)],
            )
            if selected in seen:
                continue
            seen.append(selected)
            found += _check_mtls(spec, key, draft, labels, candidates, sources)
            found += _check_authz(spec, key, draft, labels, candidates, sources, requests)
    return found


def _peer_policies(
    resources: Sequence[Mapping[str, Any]], namespace: str, labels: Mapping[str, str]
) -> list[Mapping[str, Any]]:
    """The PeerAuthentications whose selector picks these pods (the others are the same
    for every pod of the namespace)."""
    out = []
    for res in resources:
        if res.get("kind") != "PeerAuthentication":
            continue
        selector = (res.get("spec") or {}).get("selector")
        wanted = (selector.get("matchLabels") or {}) if isinstance(selector, Mapping) else None
        if wanted is not None and all(labels.get(str(k)) == str(v) for k, v in wanted.items()):
            out.append(res)
    return out


def _index(resources: Sequence[Mapping[str, Any]]) -> SelectorIndex[Mapping[str, Any]]:
    return SelectorIndex(
        (
            str((res.get("metadata") or {}).get("namespace") or "default"),
            selector_of(res),
            res,
        )
        for res in resources
    )


class _Sources:
    """The input documents a finding points at, indexed when the first finding asks."""

    def __init__(self, docs: Sequence[NativeDocument]) -> None:
        self.docs = docs
        self._rules: dict[str, NativeDocument] | None = None
        self._policies: SelectorIndex[tuple[int, NativeDocument]] | None = None

    def rule(self, name: str) -> NativeDocument | None:
        """The first AuthorizationPolicy named `namespace/name`."""
        if self._rules is None:
            self._rules = {}
            for doc in self.docs:
                if doc.kind == "AuthorizationPolicy":
                    self._rules.setdefault(f"{doc.namespace}/{doc.name}", doc)
        return self._rules.get(name)

    def policies(
        self, kind: str, draft: ServiceDraft, labels: Mapping[str, str]
    ) -> list[NativeDocument]:
        """The policies of `kind` in the service's namespace or the root namespace, in
        input order, that select these pods or do not name another `app`."""
        if self._policies is None:
            self._policies = SelectorIndex(
                (doc.namespace, selector_of(doc.data), (i, doc))
                for i, doc in enumerate(self.docs)
                if doc.kind in ("AuthorizationPolicy", "PeerAuthentication")
            )
        scope = [draft.namespace, ROOT_NAMESPACE]
        found = dict(
            [
                *self._policies.selecting(scope, labels),
                *self._policies.not_other_app(scope, draft.name),
            ]
        )
        return [doc for _, doc in sorted(found.items()) if doc.kind == kind]


def _identities(spec: Spec) -> dict[str, str]:
    """Identities no rule names behave alike, except for their namespace: one service
    identity per namespace stands for the others (the rules' own values are added, and
    only namespaces a rule or the service itself names matter)."""
    out: dict[str, str] = {}
    for key, svc in spec.services.items():
        out.setdefault(svc.metadata.namespace, spec.identity(key)[len("spiffe://") :])
    return out


def _label_sets(
    draft: ServiceDraft, resources: Sequence[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """The pod labels the service runs with: read from its workloads when given, else
    its versions, else every label combination a policy selector names (`resources`:
    at least the policies whose selector does not name another `app`)."""
    if draft.pods:
        out: list[dict[str, str]] = []
        for pod in draft.pods:
            if dict(pod.labels) not in out:
                out.append(dict(pod.labels))
        return out
    base = {"app": draft.name}
    if draft.versions:
        return [{**base, **(v or {"version": n})} for n, v in draft.versions.items()]
    out = [base]
    for res in resources:
        ns = str((res.get("metadata") or {}).get("namespace") or "default")
        selector = (res.get("spec") or {}).get("selector") or {}
        labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
        if ns not in (draft.namespace, ROOT_NAMESPACE) or not isinstance(labels, Mapping):
            continue
        wanted = {str(k): str(v) for k, v in labels.items()}
        if wanted.get("app", draft.name) != draft.name:
            continue
        candidate = {**base, **wanted}
        if candidate not in out:
            out.append(candidate)
    return out


def _container_ports(draft: ServiceDraft) -> list[tuple[int, int]]:
    """(Service port, workload port) pairs: Istio's policies name the workload port."""
    return [
        (p, draft.workload_port(p)) for p, proto in sorted(draft.ports.items()) if proto != "tcp"
    ]


def _check_mtls(
    spec: Spec,
    key: str,
    draft: ServiceDraft,
    labels: Mapping[str, str],
    resources: Sequence[Mapping[str, Any]],
    sources: _Sources,
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for service_port, workload_port in _container_ports(draft) or [(80, 80)]:
        istio = server_mode(resources, draft.namespace, labels, workload_port)
        neutral = port_mode(spec, key, service_port)
        if _STRENGTH[neutral] == _STRENGTH[istio]:
            continue
        weaker = _STRENGTH[neutral] < _STRENGTH[istio]
        code = C.MTLS_WEAKENED if weaker else C.MTLS_NARROWED
        what = "weaker" if weaker else "stricter"
        out.append(
            _finding(
                code,
                _policy_doc(sources, "PeerAuthentication", draft, labels),
                f"{key} port {service_port} (pods {_labels(labels)}): Istio enforces {istio}, "
                f"the imported spec {neutral} ({what})",
                hint="the neutral spec sets mTLS per service and port, not per version",
                extra={"port": service_port, "istio": str(istio), "neutral": str(neutral)},
            )
        )
        break
    return out


class _Request:
    """A probe as both readings take it, asked of the imported spec at most once: the
    spec's answer depends on neither the pods nor the port."""

    __slots__ = ("_allowed", "headers", "identity", "lines", "probe", "target")

    def __init__(self, probe: Probe, target: NormalizedTarget) -> None:
        self.probe = probe
        self.target = target
        self.headers = dict(probe.headers)
        self.lines = {name: (value,) for name, value in self.headers.items()}  # one line each
        self.identity = None if probe.principal is None else "spiffe://" + probe.principal
        self._allowed: bool | None = None

    def allowed_by(self, spec: Spec, key: str) -> bool:
        if self._allowed is None:
            probe = self.probe
            decision = authorize(spec, key, self.identity, probe.method, self.target, self.headers)
            self._allowed = decision.allowed
        return self._allowed


def _requests(probes: Sequence[Probe]) -> list[_Request]:
    """The probes whose target the spec's path rules accept (the others are refused by
    both before any policy)."""
    targets: dict[str, NormalizedTarget | RejectedTarget] = {}
    out = []
    for probe in probes:
        if probe.path not in targets:
            targets[probe.path] = normalize_target(probe.path)
        target = targets[probe.path]
        if not isinstance(target, RejectedTarget):
            out.append(_Request(probe, target))
    return out


def _check_authz(
    spec: Spec,
    key: str,
    draft: ServiceDraft,
    labels: Mapping[str, str],
    resources: Sequence[Mapping[str, Any]],
    sources: _Sources,
    requests: list[_Request],
) -> list[Diagnostic]:
    policies = applicable(resources, draft.namespace, labels)
    td = spec.mesh.trust_domain
    host = f"{draft.name}.{draft.namespace}.svc.cluster.local"
    widened: tuple[Probe, int, str | None] | None = None
    narrowed: tuple[Probe, int, str | None] | None = None
    for service_port, workload_port in _container_ports(draft) or [(80, 80)]:
        for request in requests:
            probe = request.probe
            path, lines = request.target.path, request.lines
            peer = Peer(probe.principal, probe.method, path, lines, workload_port, host, td)
            istio = evaluate(policies, peer)
            neutral = request.allowed_by(spec, key)
            if neutral and not istio.allowed and widened is None:
                widened = (probe, service_port, istio.rule)
            elif istio.allowed and not neutral and narrowed is None:
                narrowed = (probe, service_port, istio.rule)
            if widened is not None and narrowed is not None:
                break
    out = []
    for found, code, verb in (
        (widened, C.AUTHZ_WIDENED, "Istio denies it, the imported spec allows it"),
        (narrowed, C.AUTHZ_FAILS_CLOSED, "Istio allows it, the imported spec denies it"),
    ):
        if found is None:
            continue
        probe, port, rule = found
        example = _example(probe, key, labels, port)
        shown = f"{probe.method} {probe.path}"
        if probe.headers:
            shown += " with " + ", ".join(f"{k}: {v}" for k, v in probe.headers)
        shown += f" to {key} port {port} (pods {_labels(labels)}) from {example['source']}"
        decided = f" (Istio: {'no rule matched' if rule is None else 'rule ' + rule})"
        out.append(
            _finding(
                code,
                _rule_doc(sources, rule)
                or _policy_doc(sources, "AuthorizationPolicy", draft, labels),
                f"{verb}: {shown}{decided}",
                hint="the neutral spec has one authorization per service; import the "
                "workloads with their labels, or narrow the Istio policies",
                extra={"request": example},
            )
        )
    return out


def _example(probe: Probe, key: str, labels: Mapping[str, str], port: int) -> dict[str, Any]:
    return {
        "method": probe.method,
        "target": probe.path,
        "headers": dict(probe.headers),
        "destination": key,
        "pods": dict(labels),
        "port": port,
        "source": "a plaintext client" if probe.principal is None else probe.principal,
    }


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _rule_doc(sources: _Sources, rule: str | None) -> tuple[NativeDocument, PathKey] | None:
    if rule is None:
        return None
    name, _, index = rule.partition("#")
    doc = sources.rule(name)
    if doc is None:
        return None
    return doc, ("spec", "rules", int(index)) if index else ("spec",)


def _policy_doc(
    sources: _Sources, kind: str, draft: ServiceDraft, labels: Mapping[str, str]
) -> tuple[NativeDocument, PathKey] | None:
    """The policy of `kind` that selects these pods, else one that selects some pods of
    the service (the one whose scope the neutral spec could not keep)."""
    fallback = None
    for doc in sources.policies(kind, draft, labels):
        selector = (doc.data.get("spec") or {}).get("selector") or {}
        wanted = (selector.get("matchLabels") or {}) if isinstance(selector, Mapping) else {}
        if all(labels.get(str(k)) == str(v) for k, v in wanted.items()):
            return doc, ("spec",)
        if fallback is None and str(wanted.get("app", draft.name)) == draft.name:
            fallback = (doc, ("spec", "selector"))
    return fallback


def _finding(
    code: Code, found: tuple[NativeDocument, PathKey] | None, message: str, **kw: Any
) -> Diagnostic:
    if found is None:
        return code(message, target=TARGET, **kw)
    doc, path = found
    return native_finding(code, doc, path, message, target=TARGET, **kw)


def _probes(
    resources: Sequence[Mapping[str, Any]], spec: Spec, identities: dict[str, str], namespace: str
) -> Iterator[Probe]:
    principals, methods, paths, headers = _values(resources, spec, identities, namespace)
    for count, (principal, method, path, header) in enumerate(
        itertools.product(principals, methods, paths, headers)
    ):
        if count >= MAX_PROBES:
            return
        yield Probe(principal, method, path, header)


def _values(
    resources: Sequence[Mapping[str, Any]],
    spec: Spec,
    identities: dict[str, str],
    draft_ns: str,
) -> tuple[list[str | None], list[str], list[str], list[tuple[tuple[str, str], ...]]]:
    td = spec.mesh.trust_domain
    principals: list[str | None] = [None, f"{td}/ns/{_OUTSIDER_NS}/sa/probe"]
    named_ns = {draft_ns}
    for res in resources:
        for rule in (res.get("spec") or {}).get("rules") or []:
            for entry in (rule or {}).get("from") or []:
                src = (entry or {}).get("source") or {}
                for value in [*(src.get("namespaces") or []), *(src.get("notNamespaces") or [])]:
                    named_ns.add(str(value))
                for value in [*(src.get("principals") or []), *(src.get("notPrincipals") or [])]:
                    parts = str(value).split("/")
                    if len(parts) == 5:
                        named_ns.add(parts[2])
    principals += [identities[ns] for ns in sorted(named_ns) if ns in identities]
    methods = ["GET", "POST"]
    paths = ["/", "/probe-elsewhere"]
    header_values: dict[str, list[str]] = {}
    for res in resources:
        if res.get("kind") != "AuthorizationPolicy":
            continue
        for rule in (res.get("spec") or {}).get("rules") or []:
            rule = rule or {}
            for entry in rule.get("from") or []:
                src = entry.get("source") or {}
                for name in ("principals", "notPrincipals"):
                    for value in src.get(name) or []:
                        principals.append(_principal(str(value), td))
                for name in ("namespaces", "notNamespaces"):
                    for value in src.get(name) or []:
                        ns = str(value).strip("*") or "probe"
                        principals.append(f"{td}/ns/{ns}/sa/probe")
                for name in ("serviceAccounts", "notServiceAccounts"):
                    for value in src.get(name) or []:
                        ns, _, sa = str(value).partition("/")
                        principals.append(f"{td}/ns/{ns}/sa/{sa or 'probe'}")
            for entry in rule.get("to") or []:
                op = entry.get("operation") or {}
                for name in ("methods", "notMethods"):
                    methods += [str(m).strip("*") or "GET" for m in op.get(name) or []]
                for name in ("paths", "notPaths"):
                    for value in op.get(name) or []:
                        paths += _path_samples(str(value))
            for cond in rule.get("when") or []:
                m = re.match(r"^request\.headers\[(.+)\]$", str((cond or {}).get("key", "")))
                if m:
                    values = [*(cond.get("values") or []), *(cond.get("notValues") or [])]
                    header_values.setdefault(m.group(1).lower(), []).extend(
                        _value_sample(str(v)) for v in values
                    )
    headers: list[tuple[tuple[str, str], ...]] = [()]
    for name, values in sorted(header_values.items()):
        for value in [*dict.fromkeys(values), "probe-other"]:
            headers.append(((name, value),))
    if len(header_values) > 1:
        headers.append(tuple((n, v[0]) for n, v in sorted(header_values.items()) if v))
    return (
        list(dict.fromkeys(principals)),
        list(dict.fromkeys(m for m in methods if m)),
        list(dict.fromkeys(p for p in paths if p.startswith("/"))),
        list(dict.fromkeys(headers)),
    )


def _principal(value: str, td: str) -> str:
    if value.startswith("cluster.local/"):
        value = td + value[len("cluster.local") :]
    if value in ("*", ""):
        return f"{td}/ns/{_OUTSIDER_NS}/sa/probe"
    if value.endswith("*"):
        return value[:-1] + "probe"
    if value.startswith("*"):
        return "probe" + value[1:]
    return value


def _path_samples(value: str) -> list[str]:
    if "{*}" in value or "{**}" in value:
        return [value.replace("{**}", "x/y").replace("{*}", "x")]
    if value == "*":
        return []
    if value.endswith("*"):
        stem = value[:-1] or "/"
        return [stem, stem.rstrip("/") + "/x", stem + "x"]
    if value.startswith("*"):
        return ["/x" + value[1:]]
    return [value, value + "/x"]


def _value_sample(value: str) -> str:
    if value == "*":
        return "present"
    if value.endswith("*"):
        return value[:-1] + "x"
    if value.startswith("*"):
        return "x" + value[1:]
    return value

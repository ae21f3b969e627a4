"""Service drafts -> the neutral documents an import writes, and the typed `Spec`.

The documents are plain data in the spec's own field order (what `meshspec import`
writes); the `Spec` is validated from them directly, as a loaded file would be,
with no serialising and parsing again in between. Keys an importer keeps for
itself (starting with `_`, like a rule's `_origin`) never reach either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from adapters.kit.import_context import DEFAULT_TRUST_DOMAIN, ServiceDraft
from meshspec.diagnostics import Diagnostic
from meshspec.loader import load_data
from meshspec.spec import API_VERSION, Spec


def mesh_document(mode: str, trust_domain: str = DEFAULT_TRUST_DOMAIN) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if trust_domain != DEFAULT_TRUST_DOMAIN:
        spec["trustDomain"] = trust_domain
    spec["mtls"] = {"mode": mode}
    return {"apiVersion": API_VERSION, "kind": "Mesh", "metadata": {"name": "mesh"}, "spec": spec}


def _port(svc: ServiceDraft, port: int, protocol: str) -> dict[str, Any]:
    out: dict[str, Any] = {"port": port, "protocol": protocol}
    if svc.workload_port(port) != port:
        out["targetPort"] = svc.workload_port(port)
    return out


def _versions(svc: ServiceDraft) -> list[dict[str, Any]]:
    versions = []
    for name, labels in svc.versions.items():
        v: dict[str, Any] = {"name": name}
        if labels and labels != {"version": name}:
            v["labels"] = labels
        if name in svc.version_resilience:
            v["resilience"] = svc.version_resilience[name]
        versions.append(v)
    return versions


def _authorization(svc: ServiceDraft) -> dict[str, Any]:
    rules = [{k: v for k, v in r.items() if not k.startswith("_")} for r in svc.authz_rules]
    default_deny = svc.authz_default_deny
    # An ALLOW rule for everything after the DENY rules is `default: allow` (the
    # form meshspec's compilers write it in): same decisions, said plainly.
    allow_all = [r for r in rules if set(r) == {"name", "action"} and r["action"] == "ALLOW"]
    if default_deny and allow_all:
        rules = [r for r in rules if r not in allow_all]
        default_deny = False
    return {"default": "deny" if default_deny else "allow", "rules": rules}


def service_document(svc: ServiceDraft) -> dict[str, Any]:
    """The neutral service document of a draft."""
    spec: dict[str, Any] = {}
    if svc.service_account is not None and svc.service_account != svc.name:
        spec["serviceAccount"] = svc.service_account
    if svc.ports:  # none known: the spec's default port (80, HTTP)
        spec["ports"] = [_port(svc, p, proto) for p, proto in sorted(svc.ports.items())]
    if svc.versions:
        spec["versions"] = _versions(svc)
    spec["routes"] = svc.routes or []
    mode = svc.service_mtls_mode()
    if mode or svc.mtls_ports:
        mtls: dict[str, Any] = {}
        if mode:
            mtls["mode"] = mode
        if svc.mtls_ports:
            mtls["ports"] = {str(p): m for p, m in sorted(svc.mtls_ports.items())}
        spec["mtls"] = mtls
    if svc.has_authz:
        spec["authorization"] = _authorization(svc)
    if svc.resilience:
        spec["resilience"] = svc.resilience
    return {
        "apiVersion": API_VERSION,
        "kind": "Service",
        "metadata": {"name": svc.name, "namespace": svc.namespace},
        "spec": spec,
    }


def plain(value: Any) -> Any:
    """`value` as plain data: mappings, lists and scalars only, private keys dropped."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def documents(mesh: dict[str, Any], drafts: Iterable[ServiceDraft]) -> list[dict[str, Any]]:
    """The mesh document, then one document per draft in key order, as plain data."""
    ordered = sorted(drafts, key=lambda d: d.key)
    return [plain(mesh), *(plain(service_document(d)) for d in ordered)]


def to_spec(docs: list[dict[str, Any]], source: str) -> tuple[Spec | None, list[Diagnostic]]:
    """The typed spec the documents make, with meshspec's own findings on it (named
    `source`, e.g. `<imported from istio>`); None when there are no documents."""
    if not docs:
        return None, []
    loaded = load_data(docs, source)
    return loaded.spec, list(loaded.diagnostics)

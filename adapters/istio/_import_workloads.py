"""Which platform objects the Istio importer reads, and Istio's mesh config.

Istio identities are `<trust domain>/ns/<namespace>/sa/<service account>`: the
service account of the pods behind a Kubernetes Service (its `spec.selector`
picks them; without a Service, the `app: <name>` label Istio's own policies
use). The pods themselves are read by `adapters.kit.kube_workloads`.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.istio.resources import MESH_CONFIG
from adapters.kit.kube_workloads import WORKLOAD_KINDS
from meshspec.adapter import NativeDocument

PLATFORM_KINDS: Mapping[str, tuple[str, ...]] = {
    **WORKLOAD_KINDS,
    "Service": ("v1",),
    "ServiceAccount": ("v1",),
    "ConfigMap": ("v1",),
}


def is_platform(doc: NativeDocument) -> bool:
    return str(doc.data.get("apiVersion", "")) in PLATFORM_KINDS.get(doc.kind, ())


def service_accounts(docs: list[NativeDocument]) -> set[tuple[str, str]]:
    """(namespace, name) of every ServiceAccount object in the input."""
    return {(d.namespace, d.name) for d in docs if d.kind == "ServiceAccount" and is_platform(d)}


def mesh_trust_domain(docs: list[NativeDocument]) -> str | None:
    """`trustDomain` of Istio's mesh config in the input, if it is there."""
    from meshspec.yaml_source import YamlProblem, load_documents

    for doc in docs:
        if doc.kind != "ConfigMap" or (doc.namespace, doc.name) != MESH_CONFIG:
            continue
        text = (doc.data.get("data") or {}).get("mesh")
        if not isinstance(text, str):
            continue
        try:
            loaded = load_documents(text)
        except YamlProblem:
            return None
        for raw in loaded:
            if isinstance(raw.data, dict) and raw.data.get("trustDomain"):
                return str(raw.data["trustDomain"])
    return None

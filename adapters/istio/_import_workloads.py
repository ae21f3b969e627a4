"""Who runs a service, read from the platform's objects rather than guessed.

Istio identities are `<trust domain>/ns/<namespace>/sa/<service account>`: the
service account of the pods behind a Kubernetes Service (its `spec.selector`
picks them; without a Service, the `app: <name>` label Istio's own policies
use). Pods come from Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets
and Jobs (their `spec.template`); a pod without `serviceAccountName` runs as
`default` (kubernetes.io docs/concepts/security/service-accounts). Named
`targetPort`s resolve through the pods' container port names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.istio.resources import MESH_CONFIG
from meshspec.adapter import NativeDocument

#: kind -> apiVersions whose objects carry a pod (template).
WORKLOAD_KINDS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("v1",),
    "Deployment": ("apps/v1",),
    "StatefulSet": ("apps/v1",),
    "DaemonSet": ("apps/v1",),
    "ReplicaSet": ("apps/v1",),
    "Job": ("batch/v1",),
}
PLATFORM_KINDS: Mapping[str, tuple[str, ...]] = {
    **WORKLOAD_KINDS,
    "Service": ("v1",),
    "ServiceAccount": ("v1",),
    "ConfigMap": ("v1",),
}
DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True)
class PodTemplate:
    """The facts of one workload object the mesh cares about."""

    doc: NativeDocument
    namespace: str
    labels: Mapping[str, str]
    service_account: str
    #: container port name -> number
    port_names: Mapping[str, int] = field(default_factory=dict)


def is_platform(doc: NativeDocument) -> bool:
    return str(doc.data.get("apiVersion", "")) in PLATFORM_KINDS.get(doc.kind, ())


def pod_template(doc: NativeDocument) -> PodTemplate | None:
    """The pod (template) a workload object runs, or None when it has none."""
    if doc.kind not in WORKLOAD_KINDS:
        return None
    spec = doc.data.get("spec")
    if not isinstance(spec, Mapping):
        return None
    template: Any = {"metadata": doc.data.get("metadata"), "spec": spec}
    if doc.kind != "Pod":
        template = spec.get("template")
        if not isinstance(template, Mapping):
            return None
    meta, pod = template.get("metadata"), template.get("spec")
    if not isinstance(pod, Mapping):
        return None
    labels = (meta or {}).get("labels") if isinstance(meta, Mapping) else None
    account = pod.get("serviceAccountName") or pod.get("serviceAccount") or DEFAULT_ACCOUNT
    names: dict[str, int] = {}
    for container in pod.get("containers") or []:
        for port in (container or {}).get("ports") or [] if isinstance(container, Mapping) else []:
            if (
                isinstance(port, Mapping)
                and port.get("name")
                and isinstance(port.get("containerPort"), int)
            ):
                names.setdefault(str(port["name"]), int(port["containerPort"]))
    return PodTemplate(
        doc,
        doc.namespace,
        {str(k): str(v) for k, v in (labels or {}).items()} if isinstance(labels, Mapping) else {},
        str(account),
        names,
    )


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def service_accounts(docs: list[NativeDocument]) -> set[tuple[str, str]]:
    """(namespace, name) of every ServiceAccount object in the input."""
    return {(d.namespace, d.name) for d in docs if d.kind == "ServiceAccount" and is_platform(d)}


def version_labels(pods: list[PodTemplate], service: str) -> list[Mapping[str, str]]:
    """The label sets of a service's pods, for checks that walk every deployed workload."""
    seen: list[Mapping[str, str]] = []
    for pod in pods:
        labels = {"app": service, **pod.labels}
        if labels not in seen:
            seen.append(labels)
    return seen


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

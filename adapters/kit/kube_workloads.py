"""The pods of a Kubernetes cluster, read from the objects that run them.

Who runs a service decides its identity in every Kubernetes-based mesh, so an
importer reads it from these objects rather than guessing (decisions.md §9).
Pods come from Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs
(their `spec.template`); a pod without `serviceAccountName` runs as `default`
(kubernetes.io docs/concepts/security/service-accounts). Named `targetPort`s of
a Service resolve through the pods' container port names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
#: the service account of a pod that names none
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

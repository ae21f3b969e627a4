"""The Kubernetes objects a mesh's resources assume, written on request
(`compile --with-workloads`).

Identities, ports and versions live in the platform in every Kubernetes-based
mesh, not in the mesh's own resources: a principal names the pods' service
account, a port policy the container port, a version the pod labels. So per
service this writes its ServiceAccount, its Service (ports, `targetPort`s,
`appProtocol`) and one minimal Deployment per version, labelled `app: <service>`
plus the version's labels. Importing the output with these objects then knows
who runs what (`kube_workloads` reads them back), so nothing has to be assumed.
The Deployments' image is a placeholder to replace before running them. What
differs between meshes (how a port is named, what a pod is annotated with) is
the adapter's to say.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adapters._k8s import metadata, source_of, workload_selector
from meshspec.spec import Port, Spec

PLACEHOLDER_IMAGE = "registry.k8s.io/pause:3.10"


def port_name(port: Port) -> str:
    """The port's own name, else `<protocol>-<number>`."""
    return port.name or f"{port.protocol}-{port.port}"


def platform_objects(
    spec: Spec,
    name_port: Callable[[Port], str] = port_name,
    *,
    port_protocol: str | None = None,
    pod_annotations: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """ServiceAccounts, Services, Deployments, in that order. `port_protocol`: the
    Service ports' `protocol` (omitted when None); `pod_annotations`: the pods'
    annotations (no `annotations` key when None)."""
    accounts: dict[tuple[str, str], dict[str, Any]] = {}
    services: list[dict[str, Any]] = []
    deployments: list[dict[str, Any]] = []
    for key, svc in spec.services.items():
        ns, name = svc.metadata.namespace, svc.metadata.name
        account = spec.service_account(key)
        source = source_of(spec, key)
        accounts.setdefault(
            (ns, account),
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": metadata(account, ns, source),
            },
        )
        ports = []
        for p in svc.spec.ports:
            entry: dict[str, Any] = {
                "name": name_port(p),
                "port": p.port,
                "targetPort": p.workload_port,
            }
            if port_protocol is not None:
                entry["protocol"] = port_protocol
            entry["appProtocol"] = str(p.protocol)
            ports.append(entry)
        services.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata(name, ns, source),
                "spec": {"selector": workload_selector(name), "ports": ports},
            }
        )
        versions: list[tuple[str | None, dict[str, str]]] = [
            (v.name, v.selector) for v in svc.spec.versions
        ] or [(None, {})]
        for version, labels in versions:
            pod_labels = {**workload_selector(name), **labels}
            pod_meta: dict[str, Any] = {"labels": pod_labels}
            if pod_annotations is not None:
                pod_meta["annotations"] = dict(pod_annotations)
            deployments.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": metadata(f"{name}-{version}" if version else name, ns, source),
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": pod_labels},
                        "template": {
                            "metadata": pod_meta,
                            "spec": {
                                "serviceAccountName": account,
                                "containers": [
                                    {
                                        "name": name,
                                        "image": PLACEHOLDER_IMAGE,
                                        "ports": [
                                            {"name": p["name"], "containerPort": p["targetPort"]}
                                            for p in ports
                                        ],
                                    }
                                ],
                            },
                        },
                    },
                }
            )
    return [*accounts.values(), *services, *deployments]


def with_platform(
    spec: Spec,
    resources: list[dict[str, Any]],
    pod_annotations: Mapping[str, str],
    port_protocol: str | None = "TCP",
) -> list[dict[str, Any]]:
    """The platform objects first, then the mesh's resources; a Service the mesh's
    resources write themselves (with their annotations) replaces the plain one."""
    written = {
        (r["metadata"]["namespace"], r["metadata"]["name"])
        for r in resources
        if (r.get("apiVersion"), r.get("kind")) == ("v1", "Service")
    }
    objects = platform_objects(spec, port_protocol=port_protocol, pod_annotations=pod_annotations)
    platform = [
        r
        for r in objects
        if r["kind"] != "Service"
        or (r["metadata"]["namespace"], r["metadata"]["name"]) not in written
    ]
    return [*platform, *resources]


def service_accounts(documents: list[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(namespace, app label) -> the service account its Deployments run as."""
    out: dict[tuple[str, str], str] = {}
    for doc in documents:
        if doc.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        meta = doc.get("metadata") or {}
        template = ((doc.get("spec") or {}).get("template")) or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        account = (template.get("spec") or {}).get("serviceAccountName")
        app = labels.get("app")
        if app and account:
            out[(str(meta.get("namespace") or "default"), str(app))] = str(account)
    return out

"""The Kubernetes objects a mesh's resources assume, written on request
(`compile --with-workloads`): per service its ServiceAccount, its Service (ports,
`targetPort`s, `appProtocol`) and one minimal Deployment per version labelled
`app: <service>` plus the version's labels. Importers read identities and ports back
from them instead of guessing. The image is a placeholder to replace before running."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters._k8s import metadata, source_of, workload_selector
from meshspec.spec import Port, Spec

PLACEHOLDER_IMAGE = "registry.k8s.io/pause:3.10"


def port_name(port: Port) -> str:
    return port.name or f"{port.protocol}-{port.port}"


def platform_objects(spec: Spec, pod_annotations: Mapping[str, str]) -> list[dict[str, Any]]:
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
        ports = [
            {
                "name": port_name(p),
                "port": p.port,
                "targetPort": p.workload_port,
                "protocol": "TCP",
                "appProtocol": str(p.protocol),
            }
            for p in svc.spec.ports
        ]
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
            pods = {**workload_selector(name), **labels}
            deployments.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": metadata(f"{name}-{version}" if version else name, ns, source),
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": pods},
                        "template": {
                            "metadata": {"labels": pods, "annotations": dict(pod_annotations)},
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


def with_platform(
    spec: Spec, resources: list[dict[str, Any]], pod_annotations: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The platform objects first, then the mesh's resources; a Service the mesh's
    resources write themselves (with their annotations) replaces the plain one."""
    written = {
        (r["metadata"]["namespace"], r["metadata"]["name"])
        for r in resources
        if (r.get("apiVersion"), r.get("kind")) == ("v1", "Service")
    }
    platform = [
        r
        for r in platform_objects(spec, pod_annotations)
        if r["kind"] != "Service"
        or (r["metadata"]["namespace"], r["metadata"]["name"]) not in written
    ]
    return [*platform, *resources]

"""The Kubernetes objects the compiled Istio policies assume, written out on request.

Istio identities, ports and versions live in the platform, not in Istio's own
resources: a principal names the pod's service account, `portLevelMtls` the
container port, a subset the pod labels. `compile --with-workloads` writes, per
service, the ServiceAccount, the Service (ports, `targetPort`s, protocol via
`appProtocol`) and one minimal Deployment per version (the `app` and version
labels, `serviceAccountName`, container ports). Importing the output with these
objects then knows who runs what, so nothing has to be assumed; the Deployments'
image is a placeholder to replace before running them.
"""

from __future__ import annotations

from typing import Any

from adapters._k8s import metadata, source_of, workload_selector
from meshspec.spec import Port, Spec

PLACEHOLDER_IMAGE = "registry.k8s.io/pause:3.10"
KIND_ORDER = ("ConfigMap", "ServiceAccount", "Service", "Deployment")


def _port_name(port: Port) -> str:
    """Istio reads the protocol from `appProtocol`, else from the name's prefix."""
    proto = str(port.protocol)
    name = str(port.name or "")
    return name if name.split("-", 1)[0] == proto else f"{proto}-{port.port}"


def workload_objects(spec: Spec) -> list[dict[str, Any]]:
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
                "name": _port_name(p),
                "port": p.port,
                "targetPort": p.workload_port,
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
            pod_labels = {**workload_selector(name), **labels}
            deployments.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": metadata(f"{name}-{version}" if version else name, ns, source),
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": pod_labels},
                        "template": {
                            "metadata": {"labels": pod_labels},
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
    return [*_mesh_config(spec), *accounts.values(), *services, *deployments]


def _mesh_config(spec: Spec) -> list[dict[str, Any]]:
    """Istio's mesh config, only when the trust domain is not Istio's default: the
    principals in the policies name it. Applying it replaces the `istio` ConfigMap an
    installation has, so it is meant for import round trips and test clusters."""
    if spec.mesh.trust_domain == "cluster.local":
        return []
    text = (
        f"trustDomain: {spec.mesh.trust_domain}\n"
        "pathNormalization:\n  normalization: MERGE_SLASHES\n"
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata("istio", "istio-system", source_of(spec, "mesh")),
            "data": {"mesh": text},
        }
    ]

"""The Kubernetes objects the compiled Istio policies assume, written out on request.

Istio identities, ports and versions live in the platform, not in Istio's own
resources: a principal names the pod's service account, `portLevelMtls` the
container port, a subset the pod labels. `compile --with-workloads` writes the
kit's platform objects (`adapters.kit.platform`: per service the ServiceAccount,
the Service with `appProtocol`, one minimal Deployment per version), with port
names Istio reads the protocol from, and Istio's mesh config when the trust
domain is not Istio's default.
"""

from __future__ import annotations

from typing import Any

from adapters._k8s import metadata, source_of
from adapters.kit.platform import platform_objects
from meshspec.spec import Port, Spec


def _port_name(port: Port) -> str:
    """Istio reads the protocol from `appProtocol`, else from the name's prefix."""
    proto = str(port.protocol)
    name = str(port.name or "")
    return name if name.split("-", 1)[0] == proto else f"{proto}-{port.port}"


def workload_objects(spec: Spec) -> list[dict[str, Any]]:
    return [*_mesh_config(spec), *platform_objects(spec, _port_name)]


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

"""The AWS Gateway API controller's objects as this target writes them: the Gateway
standing for the service network, one HTTP listener per service port, and the names that
tie a neutral service to its VPC Lattice service (the HTTPRoute).

Sources: aws/aws-application-networking-k8s v2.1.3 `docs/api-types/gateway.md` (a
Gateway of class `amazon-vpc-lattice` is the service network named after it; each route
becomes a VPC Lattice service with its own domain name), `docs/api-types/http-route.md`
(the route's `sectionName` names an HTTP listener of the Gateway),
`docs/api-types/iam-auth-policy.md` and `target-group-policy.md` (policy attachment).
"""

from __future__ import annotations

import hashlib
from typing import Any

from adapters._k8s import metadata, source_of
from meshspec.spec import Spec

GATEWAY_CLASS = "amazon-vpc-lattice"
GATEWAY_API = "gateway.networking.k8s.io/v1"
POLICY_API = "application-networking.k8s.aws/v1alpha1"
#: The Gateway's namespace: routes of every namespace attach to it.
GATEWAY_NAMESPACE = "default"
#: The neutral authorization rule each IAM statement holds, `Sid=rule` pairs.
RULES_ANNOTATION = "meshspec.io/rules"


NAME_OVERRIDE_ANNOTATION = "application-networking.k8s.aws/service-name-override"


def _truncate(name: str, length: int) -> str:
    return name[:length].strip("-")


def service_name(route: str, namespace: str) -> str:
    """The VPC Lattice service name the controller gives a route (v2.1.3
    `pkg/utils/common.go` `LatticeServiceName`: the first 20 characters of the route's
    name and 18 of its namespace, hyphens trimmed)."""
    return f"{_truncate(route, 20)}-{_truncate(namespace, 18)}"


def unique_service_name(route: str, namespace: str) -> str:
    """A valid name (3-40 of `[a-z0-9-]`, `pkg/k8s/utils.go` `ValidateVPCLatticeServiceName`)
    that no other route shares: the default name cut to 33, then a digest of the route."""
    digest = hashlib.sha256(f"{namespace}/{route}".encode()).hexdigest()[:6]
    return f"{service_name(route, namespace)[:33].strip('-')}-{digest}"


def network_name(spec: Spec) -> str:
    """The service network (Gateway) name: the mesh's name, else `mesh`."""
    meta = spec.mesh_metadata
    return meta.name if meta is not None else "mesh"


def listener_name(port: int) -> str:
    return f"http-{port}"


def gateway(spec: Spec, ports: list[int]) -> dict[str, Any]:
    """The service network with one HTTP listener per service port the routes use."""
    listeners = [
        {
            "name": listener_name(p),
            "protocol": "HTTP",
            "port": p,
            "allowedRoutes": {"namespaces": {"from": "All"}},
        }
        for p in sorted(set(ports))
    ]
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": metadata(network_name(spec), GATEWAY_NAMESPACE, source_of(spec, "mesh")),
        "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": listeners},
    }


def parent_ref(spec: Spec, port: int) -> dict[str, Any]:
    return {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": network_name(spec),
        "namespace": GATEWAY_NAMESPACE,
        "sectionName": listener_name(port),
    }

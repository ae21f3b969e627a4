"""Neutral spec -> App Mesh, in the App Mesh API's shape (`_compile_api`), written as
controller resources (`appmesh.k8s.aws/v1beta2`, here) or as a CloudFormation
template (`cloudformation.py`).

What App Mesh needs spelt out, and what it cannot say:

* every (route, match) pair becomes one App Mesh route with a unique `priority`
  in the neutral precedence order (App Mesh takes the first match); a neutral
  segment prefix `/api` becomes two routes, exact `/api` and string prefix `/api/`;
* weights become integers 0-100 totalling at most 100 (API reference
  `WeightedTarget`: relative weights): percentages when exact, else the smallest
  integers in the same proportions, else percentages by largest remainder (MS3504:
  the shares change); at most 10 targets (MS3505);
* every route gets an explicit retry policy, `maxRetries: 0` when the spec has no
  retries, so App Mesh's hidden default policy never applies; timeouts are written
  on the route and raised on the target nodes' listeners;
* mTLS modes become listener TLS with SDS certificates (SPIFFE IDs, as SPIRE
  issues them) and client policies towards every TLS backend;
* authorization: App Mesh has none. An `ALLOW from services` list with default
  deny and no request conditions is what declared backends with the egress filter
  DROP_ALL enforce (on the callers' side): it is written that way with MS3502 as a
  warning; anything else is MS3502, an error.
"""

from __future__ import annotations

from typing import Any

from adapters.appmesh import codes as C
from adapters.appmesh._compile_api import ApiResources, compile_api
from meshspec.adapter import CompileOptions
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Spec

API_VERSION = "appmesh.k8s.aws/v1beta2"


def compile_appmesh(
    spec: Spec, options: CompileOptions
) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    api, diagnostics = compile_api(spec)
    return to_crds(api), diagnostics


def to_crds(api: ApiResources) -> list[dict[str, Any]]:
    """The controller's resources, in apply order (Mesh, VirtualNode, VirtualRouter,
    VirtualService). A reference names the other object by its Kubernetes name;
    `awsName` keeps the App Mesh name."""
    out: list[dict[str, Any]] = []
    mesh = api.mesh
    out.append(
        {
            "apiVersion": API_VERSION,
            "kind": "Mesh",
            "metadata": {"name": mesh.name},
            "spec": {
                "egressFilter": {"type": "DROP_ALL"},
                "namespaceSelector": {"matchLabels": {"appmesh.k8s.aws/mesh": mesh.name}},
            },
        }
    )
    for node in api.nodes:
        spec = dict(node.spec)
        backends = [
            {
                "virtualService": {
                    "virtualServiceRef": {
                        "name": api.k8s_name(b["virtualServiceName"]),
                        "namespace": api.k8s_namespace(b["virtualServiceName"]),
                    },
                    **({"clientPolicy": b["clientPolicy"]} if "clientPolicy" in b else {}),
                }
            }
            for b in spec.pop("backends", [])
        ]
        if backends:
            spec["backends"] = backends
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "VirtualNode",
                "metadata": {"name": node.k8s_name, "namespace": node.namespace},
                "spec": {
                    "awsName": node.name,
                    # no podSelector: a node that only names endpoints (the controller
                    # selects no pods for it)
                    **({"podSelector": {"matchLabels": node.labels}} if node.labels else {}),
                    **spec,
                },
            }
        )
    for router in api.routers:
        routes = []
        for route in router.routes:
            body = dict(route.spec)
            protocol = next(k for k in body if k.endswith("Route"))
            inner = dict(body[protocol])
            inner["action"] = {
                "weightedTargets": [
                    {
                        "virtualNodeRef": {
                            "name": api.node_k8s_name(t["virtualNode"]),
                            "namespace": api.node_namespace(t["virtualNode"]),
                        },
                        "weight": t["weight"],
                    }
                    for t in inner["action"]["weightedTargets"]
                ]
            }
            body[protocol] = inner
            routes.append({"name": route.name, **body})
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "VirtualRouter",
                "metadata": {"name": router.k8s_name, "namespace": router.namespace},
                "spec": {"awsName": router.name, "listeners": router.listeners, "routes": routes},
            }
        )
    for service in api.services:
        provider: dict[str, Any]
        if service.router is not None:
            provider = {"virtualRouter": {"virtualRouterRef": {"name": service.k8s_name}}}
        else:
            provider = {"virtualNode": {"virtualNodeRef": {"name": service.provider_k8s}}}
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "VirtualService",
                "metadata": {"name": service.k8s_name, "namespace": service.namespace},
                "spec": {"awsName": service.name, "provider": provider},
            }
        )
    return out


__all__ = ["C", "compile_appmesh", "to_crds"]

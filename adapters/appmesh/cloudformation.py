"""The compiled App Mesh resources as a CloudFormation template (`AWS::AppMesh::*`).

Property names are the API's in PascalCase, with the template reference's
acronyms (`TLS`, `DNS`, `SDS`, `ACM`, `HTTP2`, `AWSCloudMap`; AWS CloudFormation
User Guide, AWS::AppMesh::VirtualNode and friends). Names that point at other
resources of the template use `Fn::GetAtt` (`MeshName`, `VirtualRouterName`,
`VirtualNodeName`), so CloudFormation creates them in order; a node's backends
name virtual services by their DNS names (a reference would make a cycle when
two services call each other).
"""

from __future__ import annotations

import re
from typing import Any

from adapters.appmesh import codes as C
from adapters.appmesh._compile_api import ApiResources, compile_api, version_host
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Spec

_ACRONYMS = {
    "tls": "TLS",
    "dns": "DNS",
    "acm": "ACM",
    "sds": "SDS",
    "http": "HTTP",
    "http2": "HTTP2",
    "grpc": "GRPC",
    "tcp": "TCP",
    "awsCloudMap": "AWSCloudMap",
}


def pascal(key: str) -> str:
    return _ACRONYMS.get(key, key[:1].upper() + key[1:])


def _properties(value: Any) -> Any:
    if isinstance(value, dict):
        return {pascal(k): _properties(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_properties(v) for v in value]
    return value


def logical_id(kind: str, name: str, used: set[str]) -> str:
    base = kind + "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name))
    candidate, n = base[:255], 2
    while candidate in used:
        candidate = f"{base[:250]}{n}"
        n += 1
    used.add(candidate)
    return candidate


def to_template(api: ApiResources) -> dict[str, Any]:
    used: set[str] = set()
    resources: dict[str, Any] = {}
    mesh_id = logical_id("Mesh", api.mesh.name, used)
    mesh_name = {"Fn::GetAtt": [mesh_id, "MeshName"]}
    resources[mesh_id] = {
        "Type": "AWS::AppMesh::Mesh",
        "Properties": {"MeshName": api.mesh.name, "Spec": {"EgressFilter": {"Type": "DROP_ALL"}}},
    }
    node_ids = {}
    for node in api.nodes:
        node_ids[node.name] = logical_id("Node", node.name, used)
        resources[node_ids[node.name]] = {
            "Type": "AWS::AppMesh::VirtualNode",
            "Properties": {
                "MeshName": mesh_name,
                "VirtualNodeName": node.name,
                "Spec": _properties(
                    {
                        **{k: v for k, v in node.spec.items() if k != "backends"},
                        **(
                            {"backends": [{"virtualService": b} for b in node.spec["backends"]]}
                            if node.spec.get("backends")
                            else {}
                        ),
                    }
                ),
            },
        }
    router_ids = {}
    for router in api.routers:
        router_ids[router.name] = rid = logical_id("Router", router.name, used)
        resources[rid] = {
            "Type": "AWS::AppMesh::VirtualRouter",
            "Properties": {
                "MeshName": mesh_name,
                "VirtualRouterName": router.name,
                "Spec": {"Listeners": _properties(router.listeners)},
            },
        }
        for route in router.routes:
            spec = _properties(route.spec)
            for kind in ("HttpRoute", "Http2Route"):
                if kind in spec:
                    for target in spec[kind]["Action"]["WeightedTargets"]:
                        target["VirtualNode"] = {
                            "Fn::GetAtt": [node_ids[target["VirtualNode"]], "VirtualNodeName"]
                        }
            resources[logical_id("Route", f"{router.name}-{route.name}", used)] = {
                "Type": "AWS::AppMesh::Route",
                "Properties": {
                    "MeshName": mesh_name,
                    "VirtualRouterName": {"Fn::GetAtt": [rid, "VirtualRouterName"]},
                    "RouteName": route.name,
                    "Spec": spec,
                },
            }
    for service in api.services:
        if service.router is not None:
            provider = {
                "VirtualRouter": {
                    "VirtualRouterName": {
                        "Fn::GetAtt": [router_ids[service.router], "VirtualRouterName"]
                    }
                }
            }
        else:
            assert service.provider is not None
            provider = {
                "VirtualNode": {
                    "VirtualNodeName": {
                        "Fn::GetAtt": [node_ids[service.provider], "VirtualNodeName"]
                    }
                }
            }
        resources[logical_id("Service", service.name, used)] = {
            "Type": "AWS::AppMesh::VirtualService",
            "Properties": {
                "MeshName": mesh_name,
                "VirtualServiceName": service.name,
                "Spec": {"Provider": provider},
            },
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"App Mesh {api.mesh.name}, compiled by meshspec",
        "Resources": resources,
    }


def compile_template(spec: Spec) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The spec as one CloudFormation template, with the compile's findings."""
    api, diagnostics = compile_api(spec)
    for key, svc in spec.services.items():
        meta = svc.metadata
        for i, version in enumerate(svc.spec.versions):
            if version.labels and version.labels != {"version": version.name}:
                host = version_host(meta.name, meta.namespace, version.name)
                diagnostics.append(
                    C.LABELS_ELSEWHERE(
                        f"version {version.name}'s labels stay with the platform: App Mesh "
                        f"finds its endpoints at {host}",
                        location=spec.locate(key, ("spec", "versions", i, "labels")),
                        path=f"spec.versions[{i}].labels",
                        target="appmesh",
                        hint="give the version's workloads that DNS name (e.g. a Service per "
                        "version selecting these labels)",
                    )
                )
    return to_template(api), diagnostics

"""AWS CLI / API JSON -> App Mesh resources in the API's shape.

Three shapes come out of and go into `aws appmesh` (AWS CLI command reference,
https://docs.aws.amazon.com/cli/latest/reference/appmesh/):

* `describe-*` output wraps the resource: `{"virtualNode": {"meshName", "virtualNodeName",
  "spec", "metadata", "status"}}`;
* `create-*` / `update-*` input (`--cli-input-json`) is the resource itself, its kind
  told by its name fields (`routeName` with `virtualRouterName` is a route), the mesh
  sometimes given on the command line instead (then: the mesh named `default`);
* `list-*` output names resources without their specs (`{"virtualNodes": [...]}`): it is
  reported with MS3008, nothing to import.

A bare `{"spec": ...}` (the AWS examples' `--spec file://...` files) is typed by its
fields and named after its file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.appmesh import codes as C
from adapters.appmesh._gateways import gateway_route_finding
from adapters.appmesh.resources import Item
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Origin
from meshspec.yaml_positions import PositionsWithin

WRAPPERS = {
    "mesh": "Mesh",
    "virtualService": "VirtualService",
    "virtualRouter": "VirtualRouter",
    "route": "Route",
    "virtualNode": "VirtualNode",
}
OTHER_WRAPPERS = {"virtualGateway", "gatewayRoute"}
LISTS = (
    "meshes",
    "virtualServices",
    "virtualRouters",
    "routes",
    "virtualNodes",
    "virtualGateways",
    "gatewayRoutes",
)
#: name fields in the order that tells the kind (a route also names its router)
NAME_FIELDS = (
    ("gatewayRouteName", ""),
    ("virtualGatewayName", ""),
    ("routeName", "Route"),
    ("virtualNodeName", "VirtualNode"),
    ("virtualServiceName", "VirtualService"),
    ("virtualRouterName", "VirtualRouter"),
    ("meshName", "Mesh"),
)
DEFAULT_MESH = "default"


def read_cli(doc: NativeDocument) -> tuple[list[Item], list[Diagnostic]]:
    data = doc.data
    origin = doc.origin
    for wrapper, kind in WRAPPERS.items():
        if isinstance(data.get(wrapper), Mapping) and len(data) == 1:
            inner = Origin(
                origin.file, origin.document_index, PositionsWithin(origin.positions, (wrapper,))
            )
            return [Item(kind, data[wrapper], inner, DEFAULT_MESH)], []
    if len(data) == 1 and next(iter(data)) in OTHER_WRAPPERS:
        wrapper = next(iter(data))
        if wrapper == "gatewayRoute":
            body = data[wrapper]
            name = str(body.get("gatewayRouteName", "")) if isinstance(body, Mapping) else ""
            return [], [gateway_route_finding(name, body, origin.locate((wrapper,)))]
        return [], [_skipped(doc, wrapper)]
    listed = [k for k in LISTS if isinstance(data.get(k), list)]
    if listed:
        return [], [
            C.LIST_ONLY(
                f"'{listed[0]}' lists names only, without specs: nothing imported",
                location=origin.locate((listed[0],)),
                target="appmesh",
                hint="export each resource with aws appmesh describe-* and import those",
            )
        ]
    for field, kind in NAME_FIELDS:
        if field in data:
            if field == "gatewayRouteName":
                name = str(data[field])
                return [], [gateway_route_finding(name, data, origin.locate(()))]
            if not kind:
                return [], [_skipped(doc, field.removesuffix("Name"))]
            return [Item(kind, data, origin, DEFAULT_MESH)], []
    spec = data.get("spec")
    if isinstance(spec, Mapping):
        kind = _kind_of_spec(spec)
        if kind:
            return [Item(kind, _named(kind, data, origin.file), origin, DEFAULT_MESH)], []
    return [], [_skipped(doc, "document")]


def _kind_of_spec(spec: Mapping[str, Any]) -> str:
    if any(k in spec for k in ("httpRoute", "http2Route", "grpcRoute", "tcpRoute")):
        return "Route"
    if "provider" in spec:
        return "VirtualService"
    if "serviceDiscovery" in spec or "backends" in spec:
        return "VirtualNode"
    if "egressFilter" in spec:
        return "Mesh"
    return ""


def _named(kind: str, data: Mapping[str, Any], file: str) -> dict[str, Any]:
    stem = Path(file).name.split(".")[0]
    field = {
        "Route": "routeName",
        "VirtualService": "virtualServiceName",
        "VirtualNode": "virtualNodeName",
        "Mesh": "meshName",
    }[kind]
    named = {field: stem, **data}
    if kind == "Route":
        named.setdefault("virtualRouterName", "default")
    return named


def _skipped(doc: NativeDocument, what: str) -> Diagnostic:
    return C.KIND_SKIPPED(
        f"{what}: not a mesh, virtual service, router, route or virtual node; skipped",
        location=doc.origin.locate(()),
        target="appmesh",
        hint="virtual gateways and gateway routes are ingress, outside the neutral spec",
    )

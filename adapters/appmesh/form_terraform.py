"""Terraform `aws_appmesh_*` resources (HCL2) -> App Mesh resources in the API's shape.

The Terraform AWS provider's `aws_appmesh_mesh`, `_virtual_service`,
`_virtual_router`, `_route` and `_virtual_node` take the API's fields in
snake_case, with a repeated block written once per item (`listener`, `backend`,
`weighted_target`, `header`, `query_parameter`) and Cloud Map `attributes` as a
map (registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/
appmesh_virtual_node and siblings). A reference to another App Mesh resource of
the same input (`aws_appmesh_mesh.simple.id`, `aws_appmesh_virtual_node.b.name`)
resolves to that resource's name (a mesh's `id` is its name); anything else
(`var.x`, `local.y`) is kept as `${...}` and reported with MS3003.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.appmesh import codes as C
from adapters.appmesh._gateways import gateway_route_finding
from adapters.appmesh._shape import TERRAFORM_LISTS, TERRAFORM_SCALAR_LISTS, snake_to_camel
from adapters.appmesh.read_files import TERRAFORM_MARK
from adapters.appmesh.resources import Item
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic, Location
from meshspec.spec import Origin
from meshspec.spec.bundle import PathKey

KIND_OF = {
    "aws_appmesh_mesh": ("Mesh", "meshName"),
    "aws_appmesh_virtual_service": ("VirtualService", "virtualServiceName"),
    "aws_appmesh_virtual_router": ("VirtualRouter", "virtualRouterName"),
    "aws_appmesh_route": ("Route", "routeName"),
    "aws_appmesh_virtual_node": ("VirtualNode", "virtualNodeName"),
}
_META = ("__is_block__", "__start_line__", "__end_line__", "__comments__", "__inline_comments__")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")


def is_terraform(data: Mapping[str, Any]) -> bool:
    return TERRAFORM_MARK in data


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def read_terraform(doc: NativeDocument) -> tuple[list[Item], list[Diagnostic]]:
    file = doc.origin.file
    raw = doc.data[TERRAFORM_MARK]
    found: list[tuple[str, str, dict[str, Any]]] = []
    skipped: list[str] = []
    gateways: list[Diagnostic] = []
    for group in raw.get("resource") or []:
        for rtype, by_label in (group or {}).items():
            for label, body in (by_label or {}).items():
                rtype, label = _unquote(rtype), _unquote(label)
                if not isinstance(body, dict):
                    continue
                if rtype == "aws_appmesh_gateway_route":
                    line = int(body.get("__start_line__", 0) or 0)
                    name = str(body.get("name", label)).strip('"')
                    where = Location(file, line or 1, 1)
                    gateways.append(gateway_route_finding(name, body, where))
                    continue
                if rtype not in KIND_OF:
                    skipped.append(rtype)
                    continue
                found.append((rtype, label, body))
    names = {
        (rtype, label): str(body.get("name", label)).strip('"') for rtype, label, body in found
    }
    meshes = {(rtype, label): str(body.get("mesh_name", "")) for rtype, label, body in found}
    diagnostics: list[Diagnostic] = list(gateways)
    items = []
    for rtype, label, body in found:
        kind, name_field = KIND_OF[rtype]
        positions: dict[PathKey, tuple[int, int]] = {}
        line = int(body.get("__start_line__", 0) or 0)
        unresolved: list[str] = []

        def value(v: Any, _u: list[str] = unresolved) -> Any:
            return _resolve(v, names, meshes, _u)

        data: dict[str, Any] = {}
        positions[()] = (line, 1)
        for key, v in body.items():
            if key in _META:
                continue
            if key == "name":
                data[name_field] = value(v)
            elif key == "spec":
                data["spec"] = _block(_single(v), ("spec",), positions, line, value)
            elif key == "tags" or key == "tags_all":
                data["tags"] = v
            else:
                data[snake_to_camel(key)] = value(v)
        if unresolved:
            shown = ", ".join(dict.fromkeys(unresolved))
            diagnostics.append(
                C.UNRESOLVED(
                    f"{rtype}.{label}: cannot resolve {shown}: kept as a placeholder",
                    location=Location(file, line, 1),
                    target="appmesh",
                    hint="import the resources that define it too, or write the value",
                )
            )
        items.append(Item(kind, data, Origin(file, 0, positions)))
    if skipped:
        diagnostics.append(
            C.KIND_SKIPPED(
                f"{len(skipped)} resources that carry no App Mesh policy skipped: "
                + ", ".join(sorted(set(skipped))),
                location=Location(file, 1, 1),
                target="appmesh",
            )
        )
    return items, diagnostics


def _single(v: Any) -> Any:
    return v[0] if isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict) else v


def _block(
    body: Any, path: PathKey, positions: dict[PathKey, tuple[int, int]], line: int, value: Any
) -> Any:
    if not isinstance(body, dict):
        return value(body)
    line = int(body.get("__start_line__", line) or line)
    positions[path] = (line, 1)
    out: dict[str, Any] = {}
    for key, v in body.items():
        if key in _META:
            continue
        if key == "attributes" and isinstance(v, dict):  # Cloud Map: a map in Terraform
            out["attributes"] = [{"key": k, "value": value(x)} for k, x in v.items()]
            continue
        if key in TERRAFORM_LISTS:
            name = TERRAFORM_LISTS[key]
            items = v if isinstance(v, list) else [v]
            out[name] = [
                _block(item, (*path, name, i), positions, line, value)
                for i, item in enumerate(items)
            ]
            continue
        name = snake_to_camel(key)
        if key in TERRAFORM_SCALAR_LISTS and isinstance(v, list):
            out[name] = [value(x) for x in v]
        else:
            out[name] = _block(_single(v), (*path, name), positions, line, value)
    return out


def _resolve(
    v: Any,
    names: Mapping[tuple[str, str], str],
    meshes: Mapping[tuple[str, str], str],
    unresolved: list[str],
) -> Any:
    if not isinstance(v, str):
        return v
    text = v.strip('"') if v.startswith('"') and v.endswith('"') else v

    def ref(m: re.Match[str]) -> str:
        parts = m.group(1).strip().split(".")
        if len(parts) == 3 and (parts[0], parts[1]) in names:
            key = (parts[0], parts[1])
            if parts[2] in ("name", "id"):
                return names[key]
            if parts[2] == "mesh_name":
                return _resolve(meshes[key], names, meshes, unresolved)  # type: ignore[no-any-return]
        unresolved.append(m.group(1).strip())
        return m.group(0)

    return _REFERENCE.sub(ref, text)

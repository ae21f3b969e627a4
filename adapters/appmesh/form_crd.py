"""App Mesh controller resources (`appmesh.k8s.aws/v1beta2`) -> the API's shape.

The controller (github.com/aws/aws-app-mesh-controller-for-k8s, `apis/appmesh/
v1beta2/*_types.go`, CRDs in `config/crd/bases`, v1.13.3) mirrors the API with
Kubernetes references: `virtualNodeRef`/`virtualServiceRef`/`virtualRouterRef`
(`{name, namespace}`) or `...ARN`, a VirtualRouter holds its routes inline, a
VirtualNode selects its pods by `podSelector`. The App Mesh name of an object is
`spec.awsName`, by default `${name}.${namespace}` for a VirtualService and
`${name}_${namespace}` for the other kinds (the CRDs' own field descriptions).
A value with an envsubst placeholder (`${APP_NAMESPACE}`, the examples'
`.yaml.template` files) makes the document a template: MS3002 names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.appmesh import codes as C
from adapters.appmesh._gateways import gateway_route_finding
from adapters.appmesh.resources import Item
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Origin
from meshspec.spec.bundle import PathKey

GROUP = "appmesh.k8s.aws"
KINDS = ("Mesh", "VirtualService", "VirtualRouter", "VirtualNode")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: CRD-only fields, taken apart here (the rest must be the API's)
_CRD_ONLY = (
    "awsName",
    "meshRef",
    "podSelector",
    "namespaceSelector",
    "routes",
    "backendGroups",
    "virtualRouterRef",
)


def is_crd(data: Mapping[str, Any]) -> bool:
    return str(data.get("apiVersion", "")).split("/")[0] == GROUP


def aws_name(doc: NativeDocument) -> str:
    spec = doc.data.get("spec") or {}
    given = spec.get("awsName") if isinstance(spec, Mapping) else None
    if given:
        return str(given)
    if doc.kind == "Mesh":
        return doc.name
    sep = "." if doc.kind == "VirtualService" else "_"
    return f"{doc.name}{sep}{doc.namespace}"


def read_crds(docs: Sequence[NativeDocument]) -> tuple[list[Item], list[Diagnostic]]:
    names = {(d.kind, d.namespace, d.name): aws_name(d) for d in docs}
    items: list[Item] = []
    diagnostics: list[Diagnostic] = []
    meshes = [aws_name(d) for d in docs if d.kind == "Mesh"]
    mesh = meshes[0] if len(meshes) == 1 else ""
    for doc in docs:
        holes = sorted(set(_PLACEHOLDER.findall(repr(doc.data))))
        if holes:
            diagnostics.append(
                C.TEMPLATE_VARIABLE(
                    f"{doc.kind} {doc.name}: a template with unfilled variables "
                    + ", ".join("${" + h + "}" for h in holes),
                    location=doc.origin.locate(()),
                    target="appmesh",
                    hint="render it first: "
                    + " ".join(f"{h}=..." for h in holes)
                    + " envsubst < FILE > rendered.yaml, then import rendered.yaml",
                )
            )
            continue
        if doc.kind == "GatewayRoute":
            diagnostics.append(gateway_route_finding(doc.name, doc.data, doc.origin.locate(())))
            continue
        if doc.kind not in KINDS:
            diagnostics.append(
                C.KIND_SKIPPED(
                    f"{doc.kind} {doc.name}: no east-west policy the neutral spec holds",
                    location=doc.origin.locate(()),
                    target="appmesh",
                )
            )
            continue
        items += _convert(doc, names, _mesh_of(doc, mesh))
    return items, diagnostics


def _mesh_of(doc: NativeDocument, default: str) -> str:
    spec = doc.data.get("spec") or {}
    ref = spec.get("meshRef") if isinstance(spec, Mapping) else None
    if isinstance(ref, Mapping) and ref.get("name"):
        return str(ref["name"])
    return default or "default"


def _ref(value: Any, kind: str, namespace: str, names: Mapping[Any, str]) -> str:
    if not isinstance(value, Mapping):
        return ""
    ns = str(value.get("namespace") or namespace)
    name = str(value.get("name", ""))
    if (kind, ns, name) in names:
        return names[(kind, ns, name)]
    return f"{name}.{ns}" if kind == "VirtualService" else f"{name}_{ns}"


def _arn_name(value: Any) -> str:
    return str(value).rsplit("/", 1)[-1]


def _origin(doc: NativeDocument, moves: Sequence[tuple[PathKey, PathKey]]) -> Origin:
    """Positions of `doc` under new paths: each (source prefix -> target prefix)."""
    out: dict[PathKey, tuple[int, int]] = {}
    for path in doc.origin.positions:
        for src, dst in moves:
            if path[: len(src)] == src:
                out[dst + path[len(src) :]] = doc.origin.positions[path]
                break
    out[()] = doc.origin.locate(()).line, doc.origin.locate(()).column
    return Origin(doc.origin.file, doc.origin.document_index, out)


def _convert(doc: NativeDocument, names: Mapping[Any, str], mesh: str) -> list[Item]:
    spec = dict(doc.data.get("spec") or {})
    for field in _CRD_ONLY:
        spec.pop(field, None)
    ns, name = doc.namespace, aws_name(doc)
    same = _origin(doc, [(("spec",), ("spec",)), (("metadata",), ("metadata",))])
    if doc.kind == "Mesh":
        return [Item("Mesh", {"meshName": name, "spec": spec}, same, mesh)]
    if doc.kind == "VirtualService":
        provider = spec.get("provider") or {}
        out: dict[str, Any] = {}
        if isinstance(provider, Mapping):
            node, router = provider.get("virtualNode"), provider.get("virtualRouter")
            if isinstance(node, Mapping):
                target = node.get("virtualNodeRef") or node.get("virtualNodeARN")
                out["virtualNode"] = {
                    "virtualNodeName": _ref(target, "VirtualNode", ns, names)
                    if isinstance(target, Mapping)
                    else _arn_name(target)
                }
            if isinstance(router, Mapping):
                target = router.get("virtualRouterRef") or router.get("virtualRouterARN")
                out["virtualRouter"] = {
                    "virtualRouterName": _ref(target, "VirtualRouter", ns, names)
                    if isinstance(target, Mapping)
                    else _arn_name(target)
                }
        spec["provider"] = out
        return [Item("VirtualService", {"virtualServiceName": name, "spec": spec}, same, mesh)]
    if doc.kind == "VirtualRouter":
        items = [Item("VirtualRouter", {"virtualRouterName": name, "spec": spec}, same, mesh)]
        routes = (doc.data.get("spec") or {}).get("routes") or []
        for i, route in enumerate(routes if isinstance(routes, list) else []):
            if not isinstance(route, Mapping):
                continue
            body = {k: v for k, v in route.items() if k != "name"}
            for kind in ("httpRoute", "http2Route", "grpcRoute", "tcpRoute"):
                if isinstance(body.get(kind), Mapping):
                    body[kind] = _targets(dict(body[kind]), ns, names)
            route_data = {
                "virtualRouterName": name,
                "routeName": str(route.get("name", i)),
                "spec": body,
            }
            where = _origin(
                doc,
                [
                    (("spec", "routes", i, "name"), ("routeName",)),
                    (("spec", "routes", i), ("spec",)),
                ],
            )
            items.append(Item("Route", route_data, where, mesh))
        return items
    # VirtualNode
    backends = []
    for b in spec.get("backends") or []:
        vs = (b or {}).get("virtualService") if isinstance(b, Mapping) else None
        if isinstance(vs, Mapping):
            target = vs.get("virtualServiceRef") or vs.get("virtualServiceARN")
            entry = {
                k: v for k, v in vs.items() if k not in ("virtualServiceRef", "virtualServiceARN")
            }
            entry["virtualServiceName"] = (
                _ref(target, "VirtualService", ns, names)
                if isinstance(target, Mapping)
                else _arn_name(target)
            )
            backends.append({"virtualService": entry})
        else:
            backends.append(b)
    if backends:
        spec["backends"] = backends
    data: dict[str, Any] = {"virtualNodeName": name, "spec": spec}
    selector = (doc.data.get("spec") or {}).get("podSelector")
    if isinstance(selector, Mapping) and isinstance(selector.get("matchLabels"), Mapping):
        data["podLabels"] = dict(selector["matchLabels"])
    return [Item("VirtualNode", data, same, mesh)]


def _targets(body: dict[str, Any], ns: str, names: Mapping[Any, str]) -> dict[str, Any]:
    action = body.get("action")
    if isinstance(action, Mapping) and isinstance(action.get("weightedTargets"), list):
        targets = []
        for t in action["weightedTargets"]:
            if not isinstance(t, Mapping):
                targets.append(t)
                continue
            ref = t.get("virtualNodeRef") or t.get("virtualNodeARN")
            entry = {k: v for k, v in t.items() if k not in ("virtualNodeRef", "virtualNodeARN")}
            entry["virtualNode"] = (
                _ref(ref, "VirtualNode", ns, names) if isinstance(ref, Mapping) else _arn_name(ref)
            )
            targets.append(entry)
        body["action"] = {**action, "weightedTargets": targets}
    return body

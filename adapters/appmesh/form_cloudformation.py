"""CloudFormation templates -> App Mesh resources in the API's shape.

`AWS::AppMesh::Mesh|VirtualService|VirtualRouter|Route|VirtualNode` resources are
read; their `Properties` are the API's fields in PascalCase (`_shape`).
Intrinsic functions are resolved to the names they point to, as the template
reference defines them (https://docs.aws.amazon.com/AWSCloudFormation/latest/
UserGuide/intrinsic-function-reference.html):

* `Ref` to a parameter: its `Default` (none: unresolved); to an App Mesh resource
  of the template: that resource's name property (`MeshName`, `VirtualNodeName`...;
  CloudFormation returns the ARN, whose last part is that name);
* `Fn::GetAtt [Logical, Attr]`: the resource's property of that name
  (`MeshName`, `VirtualNodeName`, `VirtualRouterName`...);
* `Fn::Sub`: `${Name}` and `${Logical.Attr}` as above, `${!x}` the literal `${x}`.

What cannot be resolved (a parameter without a default, a pseudo parameter such
as `AWS::Region`, another function) is kept as `${Name}` in the value and
reported once per value with MS3003, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.appmesh import codes as C
from adapters.appmesh._gateways import gateway_route_finding
from adapters.appmesh._shape import pascal_to_camel, rename
from adapters.appmesh.resources import KINDS, OTHER_KINDS, Item
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Origin
from meshspec.spec.bundle import PathKey

_NAME_PROPERTY = {
    "Mesh": "MeshName",
    "VirtualService": "VirtualServiceName",
    "VirtualRouter": "VirtualRouterName",
    "Route": "RouteName",
    "VirtualNode": "VirtualNodeName",
    "VirtualGateway": "VirtualGatewayName",
    "GatewayRoute": "GatewayRouteName",
}
_SUB = re.compile(r"\$\{(!?)([^}]*)\}")


def is_template(data: Mapping[str, Any]) -> bool:
    return isinstance(data.get("Resources"), Mapping)


def read_template(doc: NativeDocument) -> tuple[list[Item], list[Diagnostic]]:
    resources: Mapping[str, Any] = doc.data["Resources"]
    params = doc.data.get("Parameters") or {}
    resolver = _Resolver(doc, resources, params if isinstance(params, Mapping) else {})
    items: list[Item] = []
    skipped: list[str] = []
    gateways: list[Diagnostic] = []
    for logical, resource in resources.items():
        if not isinstance(resource, Mapping):
            continue
        rtype = str(resource.get("Type", ""))
        kind = rtype.removeprefix("AWS::AppMesh::")
        if kind == "GatewayRoute":
            raw = resource.get("Properties") or {}
            props = resolver.resolve(raw, ("Resources", logical, "Properties"))
            name = props.get("GatewayRouteName", logical) if isinstance(props, Mapping) else ""
            at = doc.origin.locate(("Resources", logical))
            gateways.append(gateway_route_finding(str(name), props, at))
            continue
        if kind not in KINDS:
            skipped.append(rtype if kind not in OTHER_KINDS else f"{rtype} ({logical})")
            continue
        where: PathKey = ("Resources", logical, "Properties")
        props = resource.get("Properties") or {}
        resolved = resolver.resolve(props, where)
        source = {
            p[len(where) :]: pos
            for p, pos in doc.origin.positions.items()
            if p[: len(where)] == where
        }
        data, positions = rename(resolved, pascal_to_camel, source)
        items.append(
            Item(kind, data, Origin(doc.origin.file, doc.origin.document_index, positions))
        )
    resolver.report()
    if skipped:
        shown = ", ".join(sorted(set(skipped)))
        resolver.diagnostics.append(
            C.KIND_SKIPPED(
                f"{len(skipped)} resources that carry no App Mesh policy skipped: {shown}",
                location=doc.origin.locate(("Resources",)),
                target="appmesh",
            )
        )
    return items, [*resolver.diagnostics, *gateways]


class _Resolver:
    def __init__(
        self, doc: NativeDocument, resources: Mapping[str, Any], params: Mapping[str, Any]
    ) -> None:
        self.doc = doc
        self.resources = resources
        self.params = params
        self.diagnostics: list[Diagnostic] = []
        self.unresolved: dict[str, tuple[PathKey, int]] = {}

    def resolve(self, value: Any, path: PathKey) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((fn, arg),) = value.items()
                if fn in ("Ref", "Fn::GetAtt", "Fn::Sub"):
                    missing: list[str] = []
                    text = self._function(fn, arg, missing, set())
                    if missing:
                        self._unresolved(path, missing)
                    return text
                if fn.startswith("Fn::"):
                    self._unresolved(path, [fn])
                    return "${" + fn + "}"
            return {k: self.resolve(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, (*path, i)) for i, v in enumerate(value)]
        return value

    def _unresolved(self, path: PathKey, names: list[str]) -> None:
        for name in names:
            first, count = self.unresolved.get(name, (path, 0))
            self.unresolved[name] = (first, count + 1)

    def report(self) -> None:
        """One MS3003 per name that could not be resolved, where it is first used."""
        for name, (path, count) in self.unresolved.items():
            uses = f" ({count} uses)" if count > 1 else ""
            self.diagnostics.append(
                C.UNRESOLVED(
                    f"cannot resolve {name}{uses}: kept as the placeholder ${{{name}}}",
                    location=self.doc.origin.locate(path),
                    target="appmesh",
                    hint="give the parameter a Default in the template, or import the "
                    "template as deployed (aws cloudformation get-template --template-stage "
                    "Processed, with the parameter values filled in)",
                )
            )

    def _function(self, fn: str, arg: Any, missing: list[str], seen: set[str]) -> str:
        if fn == "Ref":
            return self._name(str(arg), None, missing, seen)
        if fn == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            if len(parts) != 2:
                missing.append(f"Fn::GetAtt {arg}")
                return "${" + str(arg) + "}"
            return self._name(str(parts[0]), str(parts[1]), missing, seen)
        template, variables = (
            (arg[0], arg[1])
            if isinstance(arg, list) and len(arg) == 2
            else (
                arg,
                {},
            )
        )
        if not isinstance(template, str):
            missing.append("Fn::Sub")
            return "${Fn::Sub}"

        def sub(m: re.Match[str]) -> str:
            if m.group(1):
                return "${" + m.group(2) + "}"
            name = m.group(2)
            if isinstance(variables, Mapping) and name in variables:
                given = variables[name]
                if isinstance(given, Mapping) and len(given) == 1:
                    ((inner_fn, inner_arg),) = given.items()
                    return self._function(str(inner_fn), inner_arg, missing, seen)
                return str(given)
            logical, _, attr = name.partition(".")
            return self._name(logical, attr or None, missing, seen)

        return _SUB.sub(sub, template)

    def _name(self, logical: str, attr: str | None, missing: list[str], seen: set[str]) -> str:
        """What `Ref logical` / `GetAtt logical.attr` stands for in App Mesh's terms."""
        placeholder = "${" + logical + (f".{attr}" if attr else "") + "}"
        if logical in seen:
            missing.append(placeholder[2:-1])
            return placeholder
        if attr is None and logical in self.params:
            param = self.params[logical]
            if isinstance(param, Mapping) and "Default" in param:
                return str(param["Default"])
            missing.append(logical)
            return placeholder
        resource = self.resources.get(logical)
        if not isinstance(resource, Mapping):
            missing.append(placeholder[2:-1])
            return placeholder
        kind = str(resource.get("Type", "")).removeprefix("AWS::AppMesh::")
        prop = attr or _NAME_PROPERTY.get(kind)
        props = resource.get("Properties") or {}
        if prop is None or not isinstance(props, Mapping) or prop not in props:
            missing.append(placeholder[2:-1])
            return placeholder
        value = props[prop]
        if isinstance(value, Mapping) and len(value) == 1:
            ((fn, arg),) = value.items()
            return self._function(str(fn), arg, missing, {*seen, logical})
        return str(value)

"""FerryRoutes -> neutral spec. Every field is read through an allow-list, so a
field Ferry's importer does not know is reported, never dropped silently."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meshspec.adapter import ImportResult, NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.spec import API_VERSION, Spec
from meshspec.spec.bundle import PathKey
from meshspec.spec.document import ServiceDocument
from tests.adapters.skeleton import codes as C

KNOWN: Mapping[PathKey, frozenset[str]] = {
    (): frozenset({"apiVersion", "kind", "metadata", "spec"}),
    ("spec",): frozenset({"rules"}),
    ("spec", "rules"): frozenset({"name", "exact", "prefix", "to"}),
    ("spec", "rules", "to"): frozenset({"service", "version", "weight"}),
}


def import_ferry(documents: Sequence[NativeDocument]) -> ImportResult:
    diagnostics: list[Diagnostic] = []
    services: dict[str, dict[str, Any]] = {}
    for doc in documents:
        if (doc.data.get("apiVersion"), doc.kind) != ("ferry.example/v1", "FerryRoute"):
            where = doc.origin.locate(())
            diagnostics.append(C.KIND_SKIPPED(f"{doc.kind} skipped", location=where))
            continue
        diagnostics += _unknown_fields(doc)
        key = f"{doc.namespace}/{doc.name}"
        service = _service(services, key)
        rules = list((doc.data.get("spec") or {}).get("rules") or [])
        ranks = [_rank(rule) for rule in rules]
        if ranks != sorted(ranks):
            message = "a later rule is more specific: the neutral spec prefers it"
            where = doc.origin.locate(("spec", "rules"))
            diagnostics.append(C.ORDER_CHANGED(message, location=where, target="ferry"))
        for rule in rules:
            route_name = str(rule.get("name", "route")).split("/")[0]
            routes = service["spec"].setdefault("routes", [])
            if not routes or routes[-1]["name"] != route_name:
                routes.append({"name": route_name, "matches": [], "backends": _backends(rule)})
            path = (
                {"exact": rule["exact"]} if "exact" in rule else {"prefix": rule.get("prefix", "/")}
            )
            routes[-1]["matches"].append({"path": path})
            for to in rule.get("to") or []:
                if "version" in to:
                    _version(_service(services, str(to["service"])), str(to["version"]))
    documents_out = [services[k] for k in sorted(services)]
    spec = Spec.build([ServiceDocument.model_validate(d) for d in documents_out])
    return ImportResult(spec, diagnostics, documents_out)


def _service(services: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    namespace, name = key.split("/")
    return services.setdefault(
        key,
        {
            "apiVersion": API_VERSION,
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {},
        },
    )


def _version(service: dict[str, Any], name: str) -> None:
    versions = service["spec"].setdefault("versions", [])
    if all(v["name"] != name for v in versions):
        versions.append({"name": name})


def _backends(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "service": str(to["service"]),
            **({"version": str(to["version"])} if "version" in to else {}),
            "weight": int(to.get("weight", 1)),
        }
        for to in rule.get("to") or []
    ]


def _rank(rule: Mapping[str, Any]) -> tuple[int, int]:
    if "exact" in rule:
        return (0, 0)
    return (1, -len(str(rule.get("prefix", "/")).rstrip("/")))


def _unknown_fields(doc: NativeDocument) -> list[Diagnostic]:
    out = []

    def walk(value: Any, where: PathKey, shape: PathKey) -> None:
        known = KNOWN.get(shape)
        if isinstance(value, Mapping) and known is not None:
            for field, inner in value.items():
                if field not in known:
                    message = f"field '{field}' dropped"
                    out.append(
                        C.FIELD_DROPPED(message, location=doc.origin.locate((*where, field)))
                    )
                else:
                    walk(inner, (*where, field), (*shape, field))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*where, i), shape)

    walk(doc.data, (), ())
    return out

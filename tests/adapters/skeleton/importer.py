"""FerryRoutes -> neutral spec. Every field is read through an allow-list, so a
field Ferry's importer does not know is reported, never dropped silently.

Ferry takes the first rule that matches, the neutral spec the most specific
match: the kit's `keep_order` adds what keeps every request on the rule Ferry
picks, and names a request where no order can. Services are collected as the
kit's drafts and written with `adapters.kit.drafts`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.kit import (
    ImportContext,
    Piece,
    ServiceDraft,
    documents,
    keep_order,
    mesh_document,
    to_spec,
)
from meshspec.adapter import ImportResult, NativeDocument
from meshspec.spec.bundle import PathKey
from tests.adapters.skeleton import codes as C

KNOWN: Mapping[PathKey, frozenset[str]] = {
    (): frozenset({"apiVersion", "kind", "metadata", "spec"}),
    ("spec",): frozenset({"rules"}),
    ("spec", "rules"): frozenset({"name", "exact", "prefix", "to"}),
    ("spec", "rules", "to"): frozenset({"service", "version", "weight"}),
}

Context = ImportContext[ServiceDraft]


def import_ferry(documents_in: Sequence[NativeDocument]) -> ImportResult:
    ctx: Context = ImportContext("ferry")
    for doc in documents_in:
        if (doc.data.get("apiVersion"), doc.kind) != ("ferry.example/v1", "FerryRoute"):
            ctx.report(C.KIND_SKIPPED, doc, ("kind",), f"{doc.kind} skipped")
            continue
        _unknown_fields(ctx, doc, doc.data, (), ())
        service = ctx.service(doc.namespace, doc.name)
        service.routes = _routes(ctx, doc, list((doc.data.get("spec") or {}).get("rules") or []))
    # Ferry always requires mTLS
    docs = documents(mesh_document("STRICT"), ctx.services.values())
    spec, found = to_spec(docs, "<imported from ferry>")
    return ImportResult(spec, [*ctx.diagnostics, *found], docs)


def _routes(ctx: Context, doc: NativeDocument, rules: list[Any]) -> list[dict[str, Any]]:
    kept = keep_order([[_piece(rule)] for rule in rules])
    for conflict in kept.conflicts:
        ctx.report(
            C.ORDER_CHANGED,
            doc,
            ("spec", "rules", conflict.later),
            f"rule {conflict.later} is more specific than the earlier rule {conflict.earlier}",
            example=conflict.sample or None,
        )
    routes: list[dict[str, Any]] = []
    for rule, pieces in zip(rules, kept.pieces, strict=True):
        name = str(rule.get("name", "route")).split("/")[0]
        if not routes or routes[-1]["name"] != name:
            routes.append({"name": name, "matches": [], "backends": _backends(ctx, rule)})
        routes[-1]["matches"] += [p.to_match() for p in pieces]
    return routes


def _piece(rule: Mapping[str, Any]) -> Piece:
    """Ferry's paths: exact, or a prefix of whole segments (`/` is every path)."""
    if "exact" in rule:
        return Piece(("exact", str(rule["exact"])))
    prefix = str(rule.get("prefix", "/"))
    return Piece(None if prefix == "/" else ("prefix", prefix))


def _backends(ctx: Context, rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for to in rule.get("to") or []:
        namespace, name = str(to["service"]).split("/")
        target = ctx.service(namespace, name)
        if "version" in to:
            target.versions.setdefault(str(to["version"]), {})
        out.append(
            {
                "service": f"{namespace}/{name}",
                **({"version": str(to["version"])} if "version" in to else {}),
                "weight": int(to.get("weight", 1)),
            }
        )
    return out


def _unknown_fields(
    ctx: Context, doc: NativeDocument, value: Any, where: PathKey, shape: PathKey
) -> None:
    known = KNOWN.get(shape)
    if isinstance(value, Mapping) and known is not None:
        for field, inner in value.items():
            if field not in known:
                ctx.report(C.FIELD_DROPPED, doc, (*where, field), f"field '{field}' dropped")
            else:
                _unknown_fields(ctx, doc, inner, (*where, field), (*shape, field))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _unknown_fields(ctx, doc, item, (*where, i), shape)

"""Gateway API mesh routes (GAMMA): an `HTTPRoute` whose parent is a Service.

Istio programs such a route into the sidecars of the Service's clients
(istio.io docs/tasks/traffic-management/ingress/gateway-api, "Mesh traffic"; Gateway
API GEP-1426). Its precedence is the Gateway API's, which the neutral spec uses too
(decisions.md §3), so rules and matches translate one to one: `PathPrefix` is
segment-aware, `Exact` and `RegularExpression` are as written. Routes for one
Service are taken oldest first, then by namespace/name, as the Gateway API orders
them; Istio's defaults for what a route leaves out are the VirtualService ones (no
timeout, its default retry policy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.istio import import_codes as C
from adapters.istio._import_context import ImportContext, PathKey, ServiceDraft
from adapters.istio._import_routes import default_retries, report_unread
from adapters.istio.resources import Message
from meshspec.adapter import NativeDocument
from meshspec.durations import format_duration, parse_duration
from meshspec.regex import check_regex

GROUP = "gateway.networking.k8s.io"
_PATH_KINDS = {"Exact": "exact", "PathPrefix": "prefix", "RegularExpression": "regex"}
_VALUE_KINDS = {"Exact": "exact", "RegularExpression": "regex"}
#: Gateway API `HTTPRoute` (gateway.networking.k8s.io/v1) messages the importer reads
_READ_SPEC = Message("HTTPRouteSpec", read=("parentRefs", "rules", "hostnames"))
_READ_RULE = Message(
    "HTTPRouteRule", read=("name", "matches", "backendRefs", "timeouts", "filters")
)
_READ_MATCH = Message("HTTPRouteMatch", read=("path", "headers", "queryParams", "method"))
_READ_BACKEND = Message(
    "HTTPBackendRef",
    read=("group", "kind", "name", "namespace", "port", "weight", "filters"),
)


def is_http_route(doc: NativeDocument) -> bool:
    return doc.kind == "HTTPRoute" and str(doc.data.get("apiVersion", "")).startswith(GROUP + "/")


def service_parents(doc: NativeDocument) -> list[tuple[int, str, str, Mapping[str, Any]]]:
    """(index, namespace, name, ref) of each parentRef that names a Service."""
    out = []
    for i, ref in enumerate((doc.data.get("spec") or {}).get("parentRefs") or []):
        if not isinstance(ref, Mapping):
            continue
        if ref.get("kind") == "Service" and ref.get("group", "") in ("", "core"):
            out.append((i, str(ref.get("namespace") or doc.namespace), str(ref.get("name")), ref))
    return out


def ordered(docs: Sequence[NativeDocument]) -> list[NativeDocument]:
    """Gateway API order across routes: oldest first, then namespace/name."""

    def key(doc: NativeDocument) -> tuple[str, str, str]:
        meta = doc.data.get("metadata") or {}
        return (str(meta.get("creationTimestamp") or ""), doc.namespace, doc.name)

    return sorted((d for d in docs if is_http_route(d)), key=key)


def import_http_route(
    ctx: ImportContext, doc: NativeDocument, service: ServiceDraft, ref: Mapping[str, Any]
) -> list[dict[str, Any]]:
    spec = doc.data.get("spec") or {}
    report_unread(ctx, doc, ("spec",), spec, _READ_SPEC)
    port = ref.get("port")
    if isinstance(port, int) and not service.declared:
        service.ports.setdefault(port, "http")
    if isinstance(port, int) and set(service.ports) - {port}:
        ctx.report(
            C.FIELD_DROPPED,
            doc,
            ("spec", "parentRefs"),
            f"the route binds to port {ref['port']} only; the neutral routes apply to "
            "every port of the service",
        )
    routes = []
    for ri, rule in enumerate(spec.get("rules") or []):
        path: PathKey = ("spec", "rules", ri)
        if not isinstance(rule, Mapping):
            ctx.report(C.UNREADABLE, doc, path, "a rule is a mapping")
            continue
        report_unread(ctx, doc, path, rule, _READ_RULE)
        route: dict[str, Any] = {"name": f"{doc.name}-{ri}"[:63].strip("-")}
        matches = [
            _match(ctx, doc, (*path, "matches", mi), m)
            for mi, m in enumerate(rule.get("matches") or [])
        ]
        kept = [m for m in matches if m is not None]
        if rule.get("matches") and not kept:
            continue
        if kept and kept != [{}]:
            route["matches"] = kept
        backends = _backends(ctx, doc, path, rule, service)
        if backends:
            route["backends"] = backends
        elif not rule.get("backendRefs"):
            ctx.report(
                C.BAD_VALUE,
                doc,
                path,
                "a rule without backendRefs answers 500 (Gateway API HTTPRouteRule); the "
                "neutral spec cannot say that",
                hint="add backendRefs",
            )
        route["timeout"] = _timeout(ctx, doc, path, rule.get("timeouts"))
        route["retries"] = default_retries()
        ctx.default_retries_written = True
        edits = _filters(ctx, doc, path, rule.get("filters"))
        if edits:
            route["requestHeaders"] = edits
        routes.append(route)
    return routes


def _match(ctx: ImportContext, doc: NativeDocument, path: PathKey, m: Any) -> dict[str, Any] | None:
    if not isinstance(m, Mapping):
        ctx.report(C.UNREADABLE, doc, path, "a match is a mapping")
        return None
    report_unread(ctx, doc, path, m, _READ_MATCH)
    out: dict[str, Any] = {}
    p = m.get("path")
    if isinstance(p, Mapping):
        kind = _PATH_KINDS.get(str(p.get("type") or "PathPrefix"))
        value = str(p.get("value") or "/")
        if kind is None or not _regex_ok(ctx, doc, (*path, "path"), kind, value):
            return None
        if not (kind == "prefix" and value == "/"):
            out["path"] = {kind: value}
    if m.get("method"):
        out["method"] = str(m["method"])
    for field, name_key in (("headers", "headers"), ("queryParams", "queryParams")):
        conds = []
        for i, h in enumerate(m.get(field) or []):
            kind = _VALUE_KINDS.get(str((h or {}).get("type") or "Exact"))
            where = (*path, field, i)
            value = str((h or {}).get("value", ""))
            if kind is None or not _regex_ok(ctx, doc, where, kind, value):
                return None
            name = str(h.get("name"))
            conds.append({"name": name.lower() if field == "headers" else name, kind: value})
        if conds:
            out[name_key] = conds
    return out


def _regex_ok(
    ctx: ImportContext, doc: NativeDocument, path: PathKey, kind: str, value: str
) -> bool:
    if kind != "regex":
        return True
    why = check_regex(value)
    if why:
        ctx.report(C.BAD_VALUE, doc, path, f"regex {value!r} {why}; the match is dropped")
        return False
    return True


def _backends(
    ctx: ImportContext,
    doc: NativeDocument,
    path: PathKey,
    rule: Mapping[str, Any],
    service: ServiceDraft,
) -> list[dict[str, Any]]:
    out = []
    for bi, ref in enumerate(rule.get("backendRefs") or []):
        where = (*path, "backendRefs", bi)
        if not isinstance(ref, Mapping):
            continue
        report_unread(ctx, doc, where, ref, _READ_BACKEND)
        if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
            ctx.report(C.HOST_NOT_SERVICE, doc, where, "backend is not a Service; dropped")
            continue
        key = f"{ref.get('namespace') or doc.namespace}/{ref.get('name')}"
        if key not in ctx.services:
            ctx.report(C.HOST_NOT_SERVICE, doc, where, f"backend {key} is not imported; dropped")
            continue
        target = ctx.services[key]
        if isinstance(ref.get("port"), int) and not target.declared:
            target.ports.setdefault(int(ref["port"]), "http")
        backend: dict[str, Any] = {"_origin": (doc, where)}
        if key != service.key:
            backend["service"] = key
        backend["weight"] = int(ref.get("weight", 1))
        if ref.get("filters"):
            ctx.report(C.FIELD_DROPPED, doc, (*where, "filters"), "per-backend filters")
        out.append(backend)
    return out


def _timeout(ctx: ImportContext, doc: NativeDocument, path: PathKey, timeouts: Any) -> str:
    if not isinstance(timeouts, Mapping) or timeouts.get("request") is None:
        return "0s"
    if timeouts.get("backendRequest") is not None:
        ctx.report(C.FIELD_DROPPED, doc, (*path, "timeouts", "backendRequest"), "per-try timeout")
    try:
        seconds = parse_duration(str(timeouts["request"]))
    except ValueError as exc:
        ctx.report(C.BAD_VALUE, doc, (*path, "timeouts", "request"), str(exc))
        return "0s"
    return format_duration(seconds) if seconds else "0s"


def _filters(
    ctx: ImportContext, doc: NativeDocument, path: PathKey, filters: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fi, f in enumerate(filters or []):
        where = (*path, "filters", fi)
        if not isinstance(f, Mapping):
            continue
        mod = f.get("requestHeaderModifier")
        if f.get("type") == "RequestHeaderModifier" and isinstance(mod, Mapping):
            for name in ("set", "add"):
                if mod.get(name):
                    out[name] = {str(h["name"]): str(h["value"]) for h in mod[name]}
            if mod.get("remove"):
                out["remove"] = [str(v) for v in mod["remove"]]
            continue
        ctx.report(C.FIELD_DROPPED, doc, where, f"filter {f.get('type')} is not kept")
    return out

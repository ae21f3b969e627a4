"""Consul config entries (JSON, HCL, consul-k8s resources) -> the neutral spec.

Every field is read through an allow-list (`KNOWN`); anything else is reported with its file
and line. Routers keep their first-match meaning through the kit's `keep_order` (string
prefixes become exact neutral conditions), and Consul's fall-through to the service becomes a
final catch-all route. Intentions become DENY and ALLOW rules per caller; the result is then
checked against the Consul model on a request per permission and caller, and a request the
imported spec would allow where Consul denies is an error (it widens access).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.consul import codes as C
from adapters.consul._model_chain import seconds
from adapters.consul._names import read_names
from adapters.consul.agent import CATALOG_SERVICE
from adapters.consul.entries import ENTRY_KINDS, ENTRY_OF_CRD, lower_camel
from adapters.consul.model import ConsulModel, as_entries
from adapters.kit import (
    ImportContext,
    Piece,
    ServiceDraft,
    documents,
    keep_order,
    merge_segment_pairs,
    mesh_document,
    string_prefix_pieces,
    to_spec,
)
from adapters.kit.first_match import EMPTY, intersect
from meshspec.adapter import ImportResult, NativeDocument, Topology
from meshspec.codes import Code
from meshspec.diagnostics import Severity
from meshspec.durations import format_duration
from meshspec.semantics import Request, decide, precedence_key
from meshspec.spec import RetryOn, RouteMatch
from meshspec.spec.bundle import PathKey

KNOWN: dict[str, set[str]] = {
    "proxy-defaults": {"Name", "Meta", "MutualTLSMode", "Config"},
    "mesh": {"Name", "Meta", "HTTP", "AllowEnablingPermissiveMutualTLS"},
    "service-defaults": {"Name", "Meta", "Protocol", "MutualTLSMode", "UpstreamConfig"},
    "service-resolver": {"Name", "Meta", "Subsets", "DefaultSubset", "RequestTimeout"},
    "service-splitter": {"Name", "Meta", "Splits"},
    "service-router": {"Name", "Meta", "Routes"},
    "service-intentions": {"Name", "Meta", "Sources"},
}
_ROUTE_HTTP = {"PathExact", "PathPrefix", "PathRegex", "Methods", "Header", "QueryParam"}
_DEST = {
    "Service",
    "ServiceSubset",
    "RequestTimeout",
    "NumRetries",
    "RetryOnConnectFailure",
    "RetryOn",
    "RetryOnStatusCodes",
    "RequestHeaders",
    "PrefixRewrite",
}
_RETRY_ON = {str(r) for r in RetryOn}
_PROTOCOLS = {"http": "http", "http2": "http", "grpc": "grpc", "tcp": "tcp"}


_LIST_OF_OBJECTS = {"Sources", "Permissions", "Routes", "Splits", "Header", "QueryParam"}
_LIST_OF_OBJECTS |= {"Overrides"}
_LIST_OF_SCALARS = {"Methods", "RetryOn", "RetryOnStatusCodes", "Remove"}
_OBJECTS = {"Match", "HTTP", "Destination", "RequestHeaders", "UpstreamConfig", "Defaults"}
_OBJECTS |= {"PassiveHealthCheck", "Limits", "Subsets", "Incoming", "RequestNormalization"}
_OBJECTS |= {"Redirect", "Meta", "Config", "Set", "Add"}


class _Context(ImportContext[ServiceDraft]):
    """Findings located at the field as the file spells it: an entry's own path in a config
    entry file, `spec.<lowerCamel>...` in a consul-k8s resource."""

    def report(
        self,
        code: Code,
        doc: NativeDocument,
        path: PathKey,
        message: str,
        hint: str = "",
        example: Mapping[str, Any] | None = None,
        severity: Severity | None = None,
    ) -> None:
        if doc.kind not in ENTRY_OF_CRD and "metadata" not in doc.data:
            # a config entry names itself: `service-router default/web` in findings
            name = str(doc.data.get("Name", doc.data.get("name", "")))
            doc = NativeDocument({**doc.data, "metadata": {"name": name}}, doc.origin)
        if doc.kind in ENTRY_OF_CRD and path[:1] != ("kind",):
            if doc.kind == "ServiceIntentions" and path[:1] == ("Name",):
                path = ("spec", "destination", "name", *path[1:])
            else:
                path = ("spec", *(lower_camel(p) if isinstance(p, str) else p for p in path))
        super().report(code, doc, path, message, hint, example, severity)


def _sanitized(value: Any, doc: NativeDocument, ctx: _Context, path: PathKey = ()) -> Any:
    """Every field of a known shape has it: a single block where Consul reads a list is that
    list (HCL 1), anything else of the wrong type is dropped with a finding."""
    if isinstance(value, list):
        return [_sanitized(v, doc, ctx, (*path, i)) for i, v in enumerate(value)]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for k, v in value.items():
        key, here = str(k), (*path, str(k))
        if key in _LIST_OF_OBJECTS or key in _LIST_OF_SCALARS:
            want_objects = key in _LIST_OF_OBJECTS
            items = [v] if isinstance(v, Mapping if want_objects else (str, int, float)) else v
            if not isinstance(items, list) or not all(
                isinstance(x, Mapping) == want_objects for x in items
            ):
                ctx.report(C.FIELD_DROPPED, doc, here, f"{key} is not a list of the right kind")
                continue
            v = items
        elif key in _OBJECTS and not isinstance(v, Mapping):
            ctx.report(C.FIELD_DROPPED, doc, here, f"{key} is not an object")
            continue
        out[key] = _sanitized(v, doc, ctx, here)
    return out


def import_consul(documents_in: Sequence[NativeDocument]) -> ImportResult:
    ctx = _Context("consul")
    entries: dict[tuple[str, str], tuple[dict[str, Any], NativeDocument]] = {}
    registered: dict[str, dict[str, Any]] = {}
    for doc in documents_in:
        [raw] = as_entries([doc.data])
        kind = str(raw.get("kind", ""))
        if kind == CATALOG_SERVICE:
            registered[str(raw.get("Name", ""))] = raw
            continue
        if kind not in ENTRY_KINDS:
            ctx.report(C.KIND_SKIPPED, doc, ("kind",), f"kind {kind or '(none)'} is not read")
            continue
        e: dict[str, Any] = _sanitized(raw, doc, ctx)
        for scope in ("Namespace", "Partition"):
            if str(e.get(scope) or "default") == "default":
                e.pop(scope, None)  # Consul CE's one namespace and partition
        for field in sorted(set(e) - KNOWN[kind] - {"apiVersion", "kind"}):
            ctx.report(C.FIELD_DROPPED, doc, (field,), f"{field} has no neutral equivalent")
        entries[(kind, str(e.get("Name", "")))] = (e, doc)
    if not entries and not registered:
        return ImportResult(None, ctx.diagnostics)
    virtual = {
        str(d.get("Service"))
        for (k, _), (e, _) in entries.items()
        if k == "service-router"
        for r in e.get("Routes") or []
        for d in [r.get("Destination") or {}]
        if d.get("Service")
        and ("service-splitter", str(d.get("Service"))) in entries
        and ("service-router", str(d.get("Service"))) not in entries
        and str(d.get("Service")).count("--")
    }

    def draft(name: str) -> ServiceDraft:
        svc = ctx.service("default", name)
        if not svc.ports:
            svc.ports[80] = "http"
        return svc

    mesh_mode = "STRICT"
    for (kind, name), (e, doc) in sorted(entries.items()):
        if kind == "proxy-defaults" and str(e.get("MutualTLSMode", "")).lower() == "permissive":
            mesh_mode = "PERMISSIVE"
            _permissive(ctx, entries, doc)
        elif kind == "mesh":
            _mesh(ctx, e, doc)
        elif kind == "service-defaults" and name not in virtual:
            svc = draft(name)
            svc.ports = {80: _PROTOCOLS.get(str(e.get("Protocol", "tcp")).lower(), "tcp")}
            if str(e.get("MutualTLSMode", "")).lower() in ("strict", "permissive"):
                svc.mtls_mode = str(e["MutualTLSMode"]).upper()
                if svc.mtls_mode == "PERMISSIVE":
                    _permissive(ctx, entries, doc)
        elif kind == "service-resolver":
            _resolver(ctx, draft(name), e, doc)
    for name, reg in sorted(registered.items()):
        _registration(draft(name), reg, entries)
    for (kind, name), (e, doc) in sorted(entries.items()):
        if kind == "service-router":
            _router(ctx, draft(name), e, doc, entries)
        elif kind == "service-splitter" and name not in virtual:
            svc = draft(name)
            if svc.routes is None:
                backends = _split_backends(name, entries, name)
                svc.routes = [{"name": "split", "backends": backends}]
        elif kind == "service-intentions" and name != "*":
            _intentions(ctx, draft(name), e, doc)
    _resilience(ctx, entries, virtual)
    for (kind, name), (e, _) in entries.items():
        if kind == "service-resolver" and e.get("DefaultSubset"):
            svc = draft(name)
            if svc.routes is None:
                svc.routes = [{"name": "default", "backends": [{"version": e["DefaultSubset"]}]}]
    for svc in list(ctx.services.values()):
        # every service a route or rule names exists in Consul: give it a document
        for route in svc.routes or []:
            for b in route.get("backends") or []:
                to = draft(str(b["service"])) if b.get("service") else svc
                if b.get("version") and b["version"] not in to.versions:
                    to.versions[str(b["version"])] = {"version": str(b["version"])}
                    ctx.diagnostics.append(
                        C.FILTER_UNREAD(
                            f"subset {b['version']} of {to.name} has no service-resolver: "
                            f"read as label version={b['version']}",
                            target="consul",
                        )
                    )
        for rule in svc.authz_rules:
            for f in rule.get("from") or []:
                for name in f.get("services") or []:
                    draft(str(name))
    docs = documents(mesh_document(mesh_mode), ctx.services.values())
    spec, found = to_spec(docs, "<imported from consul>")
    if spec is not None:
        _check_access(ctx, spec, [e for e, _ in entries.values()], entries)
    return ImportResult(spec, [*ctx.diagnostics, *found], docs)


def _registration(
    svc: ServiceDraft, reg: Mapping[str, Any], entries: Mapping[tuple[str, str], Any]
) -> None:
    """Ports and version labels from the service's registrations (the platform's facts)."""
    defaults = entries.get(("service-defaults", svc.name))
    proto = _PROTOCOLS.get(str((defaults[0] if defaults else {}).get("Protocol", "tcp")), "tcp")
    ports = sorted({int(i["Port"]) for i in reg.get("Instances") or [] if i.get("Port")})
    if ports:
        svc.ports = {p: proto for p in ports}
        svc.declared = True
    for i in reg.get("Instances") or []:
        version = (i.get("Meta") or {}).get("version")
        if version and str(version) not in svc.versions:
            svc.versions[str(version)] = {"version": str(version)}


def _permissive(
    ctx: ImportContext[ServiceDraft], entries: Mapping[Any, Any], doc: NativeDocument
) -> None:
    mesh = entries.get(("mesh", "mesh"))
    if mesh is None or not mesh[0].get("AllowEnablingPermissiveMutualTLS"):
        ctx.report(
            C.MTLS_WIDENED,
            doc,
            ("MutualTLSMode",),
            "Consul stays strict without mesh AllowEnablingPermissiveMutualTLS",
        )


def _mesh(ctx: ImportContext[ServiceDraft], e: Mapping[str, Any], doc: NativeDocument) -> None:
    rn = (((e.get("HTTP") or {}).get("Incoming") or {}).get("RequestNormalization")) or {}
    if (
        rn.get("InsecureDisablePathNormalization")
        or not rn.get("MergeSlashes")
        or (rn.get("PathWithEscapedSlashesAction") != "REJECT_REQUEST")
    ):
        ctx.report(
            C.NORMALISATION_DIFFERS,
            doc,
            ("HTTP", "Incoming", "RequestNormalization"),
            "the spec normalises paths, merges slashes and refuses %2F and %5C",
            hint="set MergeSlashes and PathWithEscapedSlashesAction REJECT_REQUEST",
        )


def _resolver(
    ctx: ImportContext[ServiceDraft], svc: ServiceDraft, e: Mapping[str, Any], doc: NativeDocument
) -> None:
    import re

    for name, subset in sorted((e.get("Subsets") or {}).items()):
        text = str((subset or {}).get("Filter", ""))
        labels: dict[str, str] = {}
        for clause in re.split(r"\band\b", text):
            m = re.fullmatch(
                r'\s*Service\.Meta(?:\.([A-Za-z0-9_]+)|\["([^"]+)"\])\s*==\s*"?([^"\s]*)"?\s*',
                clause,
            )
            if m is None:
                labels = {}
                break
            labels[m.group(1) or m.group(2)] = m.group(3)
        if not labels:
            ctx.report(
                C.FILTER_UNREAD,
                doc,
                ("Subsets", str(name), "Filter"),
                f"filter {text!r}: version {name} is read as label version={name}",
            )
            labels = {"version": str(name)}
        svc.versions[str(name)] = labels
    if e.get("RequestTimeout"):
        ctx.report(C.FIELD_DROPPED, doc, ("RequestTimeout",), "the resolver's timeout is left out")


def _split_backends(
    name: str, entries: Mapping[tuple[str, str], Any], owner: str
) -> list[dict[str, Any]]:
    e, _ = entries[("service-splitter", name)]
    out = []
    for s in e.get("Splits") or []:
        b: dict[str, Any] = {}
        to = str(s.get("Service") or name)
        if to != owner:
            b["service"] = to
        if s.get("ServiceSubset"):
            b["version"] = str(s["ServiceSubset"])
        b["weight"] = round(float(s.get("Weight") or 0) * 100)
        out.append(b)
    # the smallest integers with the same shares (90 and 10, not 9000 and 1000)
    common = math.gcd(*(int(b["weight"]) for b in out)) if out else 1
    for b in out:
        b["weight"] = int(b["weight"]) // (common or 1)
    return out


def _router(
    ctx: ImportContext[ServiceDraft],
    svc: ServiceDraft,
    e: Mapping[str, Any],
    doc: NativeDocument,
    entries: Mapping[tuple[str, str], Any],
) -> None:
    names = read_names(e.get("Meta"))
    groups: list[tuple[str, list[Piece] | None, dict[str, Any]]] = []
    for i, route in enumerate(e.get("Routes") or []):
        where: tuple[str | int, ...] = ("Routes", i)
        http = (route.get("Match") or {}).get("HTTP")
        pieces = None if http is None else _pieces(ctx, doc, http, (*where, "Match", "HTTP"))
        dest = route.get("Destination") or {}
        body = _destination(ctx, doc, svc.name, dest, http or {}, (*where, "Destination"), entries)
        name = names.get(str(i)) or f"route-{i}"
        if groups and groups[-1][0] == name and groups[-1][2] == body and pieces is not None:
            prev = groups[-1][1]
            if prev is not None:
                prev.extend(pieces)
                continue
        groups.append((name, pieces, body))
    if not groups or groups[-1][1] is not None:
        groups.append(("default", None, {}))
        ctx.report(
            C.FALLS_THROUGH,
            doc,
            ("Routes",),
            f"a request no route matches goes to {svc.name}: route 'default' says so",
        )
    result = keep_order([None if p is None else merge_segment_pairs(p) for _, p, _ in groups])
    for c in result.conflicts:
        ctx.report(
            C.ORDER_CHANGED,
            doc,
            ("Routes", min(c.later, len(e.get("Routes") or []) - 1)),
            f"route {groups[c.earlier][0]} takes this request in Consul; the spec picks "
            f"{groups[c.later][0]}",
            example={**c.sample, "destination": svc.name},
        )
    merged = _merge_same_routes(groups, result.pieces)
    routes = []
    seen: set[str] = set()
    for name, body, pieces in merged:
        unique = name if name not in seen else f"{name}-{len(seen)}"
        seen.add(unique)
        neutral: dict[str, Any] = {"name": unique}
        matches = [p.to_match() for p in pieces]
        if any(matches):
            neutral["matches"] = matches
        neutral.update(body)
        routes.append(neutral)
    svc.routes = routes


def _rank(piece: Piece) -> tuple[int, ...]:
    return precedence_key(RouteMatch.model_validate(piece.to_match()), 0, 0)[:5]


def _may_tie(a: Piece, b: Piece) -> bool:
    """Two pieces of equal rank that some request could match both (an unknown
    intersection counts as one)."""
    return _rank(a) == _rank(b) and intersect(a, b) is not EMPTY


def _merge_same_routes(
    groups: list[tuple[str, list[Piece] | None, dict[str, Any]]], pieces: list[list[Piece]]
) -> list[tuple[str, dict[str, Any], list[Piece]]]:
    """Consul routes of one neutral route that the precedence order put apart become one
    neutral route again, where that cannot change a decision: a later group's pieces move to
    the earlier route only when no route in between has a piece of equal rank that a request
    could match too (the earlier route would then win a tie the in-between route wins in
    Consul)."""
    out: list[tuple[str, dict[str, Any], list[Piece]]] = []
    for (name, _, body), mine in zip(groups, pieces, strict=True):
        target = next((j for j, (n, b, _) in enumerate(out) if n == name and b == body), None)
        if target is not None:
            between = [p for _, _, ps in out[target + 1 :] for p in ps]
            if not any(_may_tie(p, q) for p in between for q in mine):
                out[target][2].extend(p for p in mine if p not in out[target][2])
                continue
        out.append((name, body, list(mine)))
    return out


def _pieces(
    ctx: ImportContext[ServiceDraft],
    doc: NativeDocument,
    http: Mapping[str, Any],
    where: tuple[str | int, ...],
) -> list[Piece]:
    for field in sorted(set(http) - _ROUTE_HTTP):
        ctx.report(C.FIELD_DROPPED, doc, (*where, field), f"{field} is left out")
    if "PathExact" in http:
        paths: list[Any] = [("exact", str(http["PathExact"]))]
    elif "PathPrefix" in http:
        paths = string_prefix_pieces(str(http["PathPrefix"]))
    elif "PathRegex" in http:
        paths = [("regex", str(http["PathRegex"]))]
    else:
        paths = [None]
    headers = tuple(
        _cond(ctx, doc, h, (*where, "Header", j)) for j, h in enumerate(http.get("Header") or [])
    )
    query = tuple(
        _cond(ctx, doc, q, (*where, "QueryParam", j))
        for j, q in enumerate(http.get("QueryParam") or [])
    )
    methods = list(http.get("Methods") or []) or [None]
    return [
        Piece(
            path=p,
            method=m,
            headers=tuple(h for h in headers if h),
            query=tuple(q for q in query if q),
        )
        for p in paths
        for m in methods
    ]


_ELEMENT = re.compile(r"\(\.\*,\)\?\[ \\t\]\*(?P<body>.*?)\[ \\t\]\*\(,\.\*\)\?")


def _element(regex: str) -> tuple[str, str] | None:
    """The compiler's element regex of a DENY (`(.*,)?[ \\t]*<value>[ \\t]*(,.*)?`) back as
    the exact value or prefix it stands for; None for any other regex."""
    m = _ELEMENT.fullmatch(regex)
    if m is None:
        return None
    body = m.group("body")
    kind = "exact"
    if body.endswith("[^,]*"):
        kind, body = "prefix", body[: -len("[^,]*")]
    if re.search(r"(?<!\\)[.+*?()|\[\]{}^$]", body):
        return None
    return kind, re.sub(r"\\(.)", r"\1", body)


def _cond(
    ctx: ImportContext[ServiceDraft],
    doc: NativeDocument,
    cond: Mapping[str, Any],
    where: tuple[str | int, ...],
) -> tuple[str, str, str] | None:
    name = str(cond.get("Name", "")).lower()
    element = _element(str(cond["Regex"])) if "Regex" in cond and not cond.get("Invert") else None
    if element is not None:
        return (name, element[0], element[1])
    for key, kind in (("Exact", "exact"), ("Prefix", "prefix"), ("Regex", "regex")):
        if key in cond and not cond.get("Invert"):
            return (name, kind, str(cond[key]))
    if cond.get("Present") and not cond.get("Invert"):
        return (name, "present", "")
    ctx.report(C.FIELD_DROPPED, doc, where, f"header or query condition on {name} is left out")
    return None


def _destination(
    ctx: ImportContext[ServiceDraft],
    doc: NativeDocument,
    owner: str,
    dest: Mapping[str, Any],
    http: Mapping[str, Any],
    where: tuple[str | int, ...],
    entries: Mapping[tuple[str, str], Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for field in sorted(set(dest) - _DEST):
        ctx.report(C.FIELD_DROPPED, doc, (*where, field), f"{field} is left out")
    if dest.get("PrefixRewrite") not in (None, http.get("PathPrefix")):
        ctx.report(C.FIELD_DROPPED, doc, (*where, "PrefixRewrite"), "the path rewrite is left out")
    to = str(dest.get("Service") or owner)
    if not dest.get("ServiceSubset") and ("service-splitter", to) in entries and to != owner:
        body["backends"] = _split_backends(to, entries, owner)
    elif to != owner or dest.get("ServiceSubset"):
        b: dict[str, Any] = {}
        if to != owner:
            b["service"] = to
        if dest.get("ServiceSubset"):
            b["version"] = str(dest["ServiceSubset"])
        body["backends"] = [b]
    if dest.get("RequestTimeout") not in (None, "", 0, "0s"):
        value = seconds(dest["RequestTimeout"])
        body["timeout"] = "0s" if value < 0 else format_duration(value)
    num = int(dest.get("NumRetries") or 0)
    on = [str(x) for x in dest.get("RetryOn") or []]
    if dest.get("RetryOnConnectFailure") and "connect-failure" not in on:
        on.insert(0, "connect-failure")
    codes_ = [int(c) for c in dest.get("RetryOnStatusCodes") or []]
    if num or on or codes_:
        kept = [o for o in on if o in _RETRY_ON]
        if len(kept) != len(on):
            ctx.report(C.FIELD_DROPPED, doc, (*where, "RetryOn"), "retry conditions left out")
        retries: dict[str, Any] = {"attempts": num or 1, "retryOn": kept}
        if codes_:
            retries["statusCodes"] = codes_
        body["retries"] = retries
    edits = dest.get("RequestHeaders") or {}
    if edits:
        body["requestHeaders"] = {
            k.lower(): v
            for k, v in (
                ("set", edits.get("Set")),
                ("add", edits.get("Add")),
                ("remove", edits.get("Remove")),
            )
            if v
        }
    return body


_SOURCE = {
    "Name",
    "Action",
    "Permissions",
    "Description",
    "Type",
    "Precedence",
    "LegacyID",
    "LegacyMeta",
    "LegacyCreateTime",
    "LegacyUpdateTime",
    "Namespace",
    "Partition",
}
_PERMISSION = {"Action", "HTTP"}
_PERMISSION_HTTP = {"PathExact", "PathPrefix", "PathRegex", "Methods", "Header"}
_CATCH_ALL: dict[str, Any] = {}


def _intentions(
    ctx: ImportContext[ServiceDraft], svc: ServiceDraft, e: Mapping[str, Any], doc: NativeDocument
) -> None:
    """Sources -> DENY and ALLOW rules. A source's trailing permission for every request (or
    its L4 action) is the default when it is `*`'s, and is dropped when it says what the default
    says; the access check afterwards reports every request that still differs."""
    names = read_names(e.get("Meta"))
    svc.has_authz = True
    sources = [s for s in e.get("Sources") or [] if isinstance(s, Mapping)]
    # `*` last: a caller with its own source is decided there (precedence)
    order = sorted(range(len(sources)), key=lambda i: str(sources[i].get("Name")) == "*")
    items: list[tuple[int, str, str, str, dict[str, Any], list[dict[str, Any]]]] = []
    for i in order:
        src = sources[i]
        caller = str(src.get("Name", ""))
        if not _source_kept(ctx, doc, src, i):
            continue
        who = [{"authenticated": True}] if caller == "*" else [{"services": [caller]}]
        perms = list(src.get("Permissions") or [])
        if not perms:
            items.append((i, caller, caller, str(src.get("Action")), _CATCH_ALL, who))
            continue
        for j, perm in enumerate(perms):
            where = ("Sources", i, "Permissions", j)
            for field in sorted(set(perm) - _PERMISSION):
                deny = str(perm.get("Action")) == "deny"
                ctx.report(
                    C.FIELD_DROPPED if deny else C.ACCESS_WIDENED,
                    doc,
                    (*where, field),
                    f"{field} is left out" + ("" if deny else ": the ALLOW holds without it"),
                )
            op = _operation(ctx, doc, perm.get("HTTP") or {}, (*where, "HTTP"))
            items.append((i, caller, f"{caller}#{j}", str(perm.get("Action")), op, who))
    # the default: `*`'s answer for every request, else acl.default_policy (allow)
    default = "allow"
    lasts = _lasts(items)
    for _, caller, native, action, op, _ in items:
        last = native == caller or native == f"{caller}#{lasts[caller]}"
        if caller == "*" and last and op == _CATCH_ALL:
            default = action
    svc.authz_default_deny = default == "deny"
    rules: dict[str, dict[str, Any]] = {}
    for i, caller, native, action, op, who in items:
        neutral = names.get(native)
        last = native == caller or native == f"{caller}#{lasts[caller]}"
        if neutral == "" or (neutral is None and last and op == _CATCH_ALL and action == default):
            continue  # the default says it
        name = neutral or f"{caller.replace('*', 'any')}-{native.partition('#')[2] or 'all'}"
        rule = rules.get(name)
        if rule is not None and rule["action"] == ("DENY" if action == "deny" else "ALLOW"):
            if who[0] not in rule["from"]:
                rule["from"].append(who[0])
            if op not in rule["_to"]:
                rule["_to"].append(op)
            continue
        if rule is not None:
            name = f"{name}-{i}"
        rules[name] = {
            "name": name,
            "action": "DENY" if action == "deny" else "ALLOW",
            "from": list(who),
            "_to": [op],
        }
    ordered = [r for r in rules.values() if r["action"] == "DENY"]
    ordered += [r for r in rules.values() if r["action"] == "ALLOW"]
    for rule in ordered:
        if any("authenticated" in f for f in rule["from"]):
            rule["from"] = [{"authenticated": True}]
        to = _joined(rule.pop("_to"))
        if to:
            rule["to"] = to
        svc.authz_rules.append(rule)


def _lasts(items: list[tuple[int, str, str, str, dict[str, Any], list[Any]]]) -> dict[str, str]:
    """Each caller's last permission index ("" for an L4 source), in one pass."""
    return {c: native.partition("#")[2] for _, c, native, _, _, _ in items}


def _joined(tos: list[dict[str, Any]]) -> dict[str, Any]:
    """Permissions of one neutral rule (the compiler writes a segment prefix as two): one
    operation when they differ in their paths only."""
    if not tos or any(t == _CATCH_ALL for t in tos):
        return {}
    rest = [{k: v for k, v in t.items() if k != "paths"} for t in tos]
    if any(r != rest[0] for r in rest) or not all(t.get("paths") for t in tos):
        return tos[0]
    paths: list[dict[str, str]] = []
    for t in tos:
        paths += [p for p in t["paths"] if p not in paths]
    for p in list(paths):
        exact = p.get("exact")
        if exact is None:
            continue
        pair = {"regex": _re2_escape(exact) + "/.*"}
        if pair in paths:
            paths[paths.index(p)] = {"prefix": exact}
            paths.remove(pair)
    return {**rest[0], "paths": paths}


def _source_kept(
    ctx: ImportContext[ServiceDraft], doc: NativeDocument, src: Mapping[str, Any], i: int
) -> bool:
    """A source of another cluster or partition names other identities: left out (a DENY
    of theirs cannot hold for a service of this spec, an ALLOW would allow the wrong one)."""
    for field in sorted(set(src) - _SOURCE):
        deny = str(src.get("Action", "")) == "deny"
        foreign = field in ("Peer", "SamenessGroup")
        if foreign:
            ctx.report(
                C.FIELD_DROPPED,
                doc,
                ("Sources", i, field),
                f"a source of {field} {src[field]} names no service of this spec: left out",
            )
            return False
        ctx.report(
            C.FIELD_DROPPED if deny else C.ACCESS_WIDENED,
            doc,
            ("Sources", i, field),
            f"{field} is left out" + ("" if deny else ": the ALLOW holds without it"),
        )
    for scope in ("Namespace", "Partition"):
        if str(src.get(scope) or "default") not in ("default", "*"):
            ctx.report(
                C.FIELD_DROPPED,
                doc,
                ("Sources", i, scope),
                f"a source in {scope.lower()} {src[scope]} is left out (Consul CE has one)",
            )
            return False
    return True


def _re2_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$" else c for c in text)


def _operation(
    ctx: ImportContext[ServiceDraft],
    doc: NativeDocument,
    http: Mapping[str, Any],
    where: tuple[str | int, ...],
) -> dict[str, Any]:
    """A permission's `HTTP` as a neutral operation; Consul's `PathPrefix` is a string prefix:
    `/x/` is the regex `/x/.*`, `/x` the segment prefix `/x` or the regex `/x[^/].*`."""
    for field in sorted(set(http) - _PERMISSION_HTTP):
        ctx.report(C.FIELD_DROPPED, doc, (*where, field), f"{field} is left out")
    out: dict[str, Any] = {}
    if http.get("Methods"):
        out["methods"] = [str(m) for m in http["Methods"]]
    if "PathExact" in http:
        out["paths"] = [{"exact": str(http["PathExact"])}]
    elif "PathRegex" in http:
        out["paths"] = [{"regex": str(http["PathRegex"])}]
    elif "PathPrefix" in http and str(http["PathPrefix"]) not in ("", "/"):
        value = str(http["PathPrefix"])
        if value.endswith("/"):
            out["paths"] = [{"regex": _re2_escape(value) + ".*"}]
        else:
            out["paths"] = [{"prefix": value}, {"regex": _re2_escape(value) + "[^/].*"}]
    headers = []
    for j, h in enumerate(http.get("Header") or []):
        cond = _cond(ctx, doc, h, (*where, "Header", j))
        if cond is not None:
            name, kind, value = cond
            headers.append({"name": name, kind: True if kind == "present" else value})
    if headers:
        out["headers"] = headers
    return out


def _resilience(
    ctx: ImportContext[ServiceDraft],
    entries: Mapping[tuple[str, str], Any],
    virtual: set[str],
) -> None:
    """Consul keys limits and health checks by the caller; the spec by the service called.
    Each service gets what its callers agree on (the first caller's, reported when they
    differ), read through the model so that Consul's defaults count too."""
    model = ConsulModel([e for e, _ in entries.values()], Topology("cluster.local", {}))
    callers = sorted(n for (k, n) in entries if k == "service-defaults" and n not in virtual)
    if not callers:
        return
    # callers with the same UpstreamConfig apply the same to every upstream: ask one of each
    # (asking every caller for every service grows with the square of the mesh)
    alike: dict[str, list[str]] = {}
    for caller in callers:
        config = entries[("service-defaults", caller)][0].get("UpstreamConfig")
        alike.setdefault(json.dumps(config, sort_keys=True, default=str), []).append(caller)
    for svc in ctx.services.values():
        policies = {group[0]: model.breaker_for(group[0], svc.name) for group in alike.values()}
        if len(set(map(repr, policies.values()))) > 1:
            _, doc = entries[("service-defaults", callers[0])]
            ctx.report(
                C.CALLER_KEYED,
                doc,
                ("UpstreamConfig",),
                f"callers of {svc.name} differ ({_listed(callers)}): {callers[0]}'s is kept",
            )
        policy = policies[callers[0]]
        res: dict[str, Any] = {}
        if policy.outlier_detection is not None:
            res["outlierDetection"] = policy.outlier_detection.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
        if policy.connection_limits is not None:
            res["connectionLimits"] = policy.connection_limits.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
        svc.resilience = res


def _check_access(
    ctx: ImportContext[ServiceDraft],
    spec: Any,
    entries: list[dict[str, Any]],
    by_key: Mapping[tuple[str, str], tuple[dict[str, Any], NativeDocument]],
) -> None:
    """A request per permission and caller: the spec must not allow what Consul denies.

    The callers asked: one of each group of callers whose sources say the same (permissions
    and their names), and one caller no source names. Each imported rule names the callers
    of the sources it comes from, so callers with the same source become the same rules, and
    every caller no source names is decided by `*` in Consul and by the rules `*` became in
    the imported spec: each group answers alike (asking every caller for every service would
    grow with the square of the mesh)."""
    model = ConsulModel(entries, Topology.of(spec))
    names = sorted(s.metadata.name for s in spec)
    known = set(names)
    for (kind, dest), (e, doc) in sorted(by_key.items()):
        if kind != "service-intentions" or dest not in known:
            continue
        targets = {"/"}
        named: set[str] = set()
        labels = read_names(e.get("Meta"))
        alike: dict[str, str] = {}
        for src in e.get("Sources") or []:
            caller = str(src.get("Name", ""))
            named.add(caller)
            perms = src.get("Permissions") or []
            for p in perms:
                http = p.get("HTTP") or {}
                for key in ("PathExact", "PathPrefix"):
                    if key in http:
                        targets.add(str(http[key]))
            if caller in known:
                # callers whose sources say the same, permission names included, become the
                # same rules: one of them answers for all
                said = [labels.get(f"{caller}#{j}") for j in range(len(perms))] or [
                    labels.get(caller)
                ]
                body = {k: v for k, v in src.items() if k != "Name"}
                alike.setdefault(json.dumps([body, said], sort_keys=True, default=str), caller)
        others = (n for n in names if n not in named)
        asked = sorted({*alike.values(), next(others, dest)})
        for caller in asked:
            for target in sorted(targets):
                req = Request(destination=dest, target=target, source=caller)
                try:
                    ours = decide(spec, req)
                except LookupError:
                    continue
                theirs = model.decide(req)
                if ours.authz is None or theirs.authz is None:
                    continue
                mine = "allow" if ours.authz.allowed else "deny"
                if mine == theirs.authz:
                    continue
                code = C.ACCESS_WIDENED if mine == "allow" else C.ACCESS_NARROWED
                ctx.report(
                    code,
                    doc,
                    ("Sources",),
                    f"the imported spec says {mine}, Consul says {theirs.authz}",
                    example={
                        "method": "GET",
                        "target": target,
                        "destination": dest,
                        "source": caller,
                    },
                )


def _listed(names: Sequence[str], shown: int = 10) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more

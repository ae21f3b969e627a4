"""Consul config entries (JSON, HCL, consul-k8s resources) -> the neutral spec.

Every field is read through an allow-list (`KNOWN`); anything else is reported with its file
and line. Routers keep their first-match meaning through the kit's `keep_order` (string
prefixes become exact neutral conditions), and Consul's fall-through to the service becomes a
final catch-all route. Intentions become DENY and ALLOW rules per caller; the result is then
checked against the Consul model on a request per permission and caller, and a request the
imported spec would allow where Consul denies is an error (it widens access).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.consul import codes as C
from adapters.consul._model_chain import seconds
from adapters.consul._names import read_names
from adapters.consul.entries import ENTRY_KINDS
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
from meshspec.adapter import ImportResult, NativeDocument, Topology
from meshspec.durations import format_duration
from meshspec.semantics import Request, decide, precedence_key
from meshspec.spec import RetryOn, RouteMatch

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


def import_consul(documents_in: Sequence[NativeDocument]) -> ImportResult:
    ctx: ImportContext[ServiceDraft] = ImportContext("consul", ServiceDraft)
    entries: dict[tuple[str, str], tuple[dict[str, Any], NativeDocument]] = {}
    for doc in documents_in:
        [e] = as_entries([doc.data])
        kind = str(e.get("kind", ""))
        if kind not in ENTRY_KINDS:
            ctx.report(C.KIND_SKIPPED, doc, ("kind",), f"kind {kind or '(none)'} is not read")
            continue
        for field in sorted(set(e) - KNOWN[kind] - {"apiVersion", "kind"}):
            ctx.report(C.FIELD_DROPPED, doc, (field,), f"{field} has no neutral equivalent")
        entries[(kind, str(e.get("Name", "")))] = (e, doc)
    if not entries:
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


def _merge_same_routes(
    groups: list[tuple[str, list[Piece] | None, dict[str, Any]]], pieces: list[list[Piece]]
) -> list[tuple[str, dict[str, Any], list[Piece]]]:
    """Consul routes of one neutral route that the precedence order put apart become one
    neutral route again, where that cannot change a decision: a later group's pieces move to
    the earlier route only when no route in between has a piece of equal rank (the earlier
    route would then win a tie the in-between route wins in Consul)."""
    out: list[tuple[str, dict[str, Any], list[Piece]]] = []
    for (name, _, body), mine in zip(groups, pieces, strict=True):
        target = next((j for j, (n, b, _) in enumerate(out) if n == name and b == body), None)
        if target is not None:
            between = {_rank(p) for _, _, ps in out[target + 1 :] for p in ps}
            if not between & {_rank(p) for p in mine}:
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


def _cond(
    ctx: ImportContext[ServiceDraft],
    doc: NativeDocument,
    cond: Mapping[str, Any],
    where: tuple[str | int, ...],
) -> tuple[str, str, str] | None:
    name = str(cond.get("Name", "")).lower()
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


def _intentions(
    ctx: ImportContext[ServiceDraft], svc: ServiceDraft, e: Mapping[str, Any], doc: NativeDocument
) -> None:
    names = read_names(e.get("Meta"))
    svc.has_authz = True
    rules: dict[str, dict[str, Any]] = {}
    denies: list[dict[str, Any]] = []
    allows: list[dict[str, Any]] = []
    sources = list(e.get("Sources") or [])
    # `*` last: a caller with its own source is decided there (precedence)
    sources.sort(key=lambda s: str(s.get("Name")) == "*")
    for i, src in enumerate(sources):
        caller = str(src.get("Name", ""))
        who = [{"authenticated": True}] if caller == "*" else [{"services": [caller]}]
        perms = src.get("Permissions") or []
        items = (
            [(caller, {"Action": src.get("Action"), "HTTP": {}})]
            if not perms
            else [(f"{caller}#{j}", p) for j, p in enumerate(perms)]
        )
        for native, perm in items:
            neutral = names.get(native)
            if neutral == "" and caller == "*":
                svc.authz_default_deny = str(perm.get("Action")) == "deny"
                continue
            if neutral == "":
                continue
            name = neutral or f"{caller.replace('*', 'any')}-{native.partition('#')[2] or 'all'}"
            action = "DENY" if str(perm.get("Action")) == "deny" else "ALLOW"
            to = _operation(ctx, doc, perm.get("HTTP") or {}, ("Sources", i))
            if name in rules:
                rule = rules[name]
                if who[0] not in rule["from"] and not any(
                    "authenticated" in f for f in rule["from"]
                ):
                    rule["from"].append(who[0])
                if to and to not in rule["_to"]:
                    rule["_to"].append(to)
                continue
            rule = {"name": name, "action": action, "from": list(who), "_to": [to] if to else []}
            rules[name] = rule
            (denies if action == "DENY" else allows).append(rule)
    for rule in [*denies, *allows]:
        tos = rule.pop("_to")
        if len(tos) == 1:
            rule["to"] = tos[0]
        elif tos:
            paths = [p for t in tos for p in t.get("paths", [])]
            rule["to"] = {**tos[0], "paths": paths} if paths else tos[0]
        if any("authenticated" in f for f in rule["from"]):
            rule["from"] = [{"authenticated": True}]
        svc.authz_rules.append(rule)


def _operation(
    ctx: ImportContext[ServiceDraft],
    doc: NativeDocument,
    http: Mapping[str, Any],
    where: tuple[str | int, ...],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if http.get("Methods"):
        out["methods"] = list(http["Methods"])
    for key, kind in (("PathExact", "exact"), ("PathPrefix", "prefix"), ("PathRegex", "regex")):
        if key in http:
            value = str(http[key])
            if kind == "prefix" and value == "/":
                continue
            if kind == "prefix":
                kind, value = (
                    ("prefix", value.rstrip("/"))
                    if value.endswith("/")
                    else ("regex", value + ".*")
                )
            out["paths"] = [{kind: value}]
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
    for svc in ctx.services.values():
        policies = {caller: model.breaker_for(caller, svc.name) for caller in callers}
        if len(set(map(repr, policies.values()))) > 1:
            _, doc = entries[("service-defaults", callers[0])]
            ctx.report(
                C.CALLER_KEYED,
                doc,
                ("UpstreamConfig",),
                f"callers of {svc.name} differ ({', '.join(callers)}): {callers[0]}'s is kept",
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
    """A request per permission and caller: the spec must not allow what Consul denies."""
    model = ConsulModel(entries, Topology.of(spec))
    names = sorted(s.metadata.name for s in spec)
    for (kind, dest), (e, doc) in sorted(by_key.items()):
        if kind != "service-intentions" or dest not in names:
            continue
        targets = {"/"}
        for src in e.get("Sources") or []:
            for p in src.get("Permissions") or []:
                http = p.get("HTTP") or {}
                for key in ("PathExact", "PathPrefix"):
                    if key in http:
                        targets.add(str(http[key]))
        for caller in names:
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

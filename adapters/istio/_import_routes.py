"""VirtualService `http` rules as neutral routes, with Istio's meaning kept.

Istio defaults that differ from the neutral ones are written out: no `timeout`
means none (`0s`), no `retries` means Istio's default policy (2 retries on
connect-failure and refused-stream; `unavailable`, `cancelled` are gRPC conditions
with no neutral name), per istio/istio `route/retry/retry.go`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters._k8s import SOURCE_ANNOTATION
from adapters.istio import import_codes as C
from adapters.istio import resources as R
from adapters.istio._import_context import ImportContext, PathKey, ServiceDraft
from adapters.istio.resources import Message
from adapters.kit import envoy
from adapters.kit.first_match import (
    Piece,
    StringCond,
    keep_order,
    merge_segment_pairs,
    string_prefix_pieces,
)
from meshspec.adapter import NativeDocument
from meshspec.durations import format_duration, parse_duration
from meshspec.regex import check_regex
from meshspec.validation import clean_path_problem

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def default_route(service: ServiceDraft) -> dict[str, Any]:
    """Istio's default route (no VirtualService) in neutral words."""
    return {"name": "default", "timeout": "0s", "retries": default_retries()}


def default_retries() -> dict[str, Any]:
    return _retries_from(R.DEFAULT_ATTEMPTS, None, R.DEFAULT_RETRY_ON)


def _retries_from(attempts: int, per_try: str | None, retry_on: str) -> dict[str, Any]:
    read = envoy.read_retry_on(retry_on)
    codes = list(read.numbers)
    out: dict[str, Any] = {"attempts": attempts, "retryOn": [c.value for c in read.conditions]}
    if per_try is not None:
        out["perTryTimeout"] = per_try
    if codes:
        out["statusCodes"] = codes
    return out


def report_unread(
    ctx: ImportContext, doc: NativeDocument, path: PathKey, value: Any, message: Message
) -> None:
    """Every field of `value` the importer does not know becomes a finding."""
    for name in message.unread(value):
        ctx.report(
            C.UNKNOWN_FIELD,
            doc,
            (*path, str(name)),
            f"{message.name} field `{name}` is not read by the importer; its meaning is not kept",
        )


def import_virtual_service(
    ctx: ImportContext, doc: NativeDocument, service: ServiceDraft, resolve: Any
) -> list[dict[str, Any]]:
    """Neutral routes for `service` from the VirtualService in `doc`."""
    rules = (doc.data.get("spec") or {}).get("http") or []
    names: set[str] = set()
    drafts: list[dict[str, Any]] = []
    piece_lists: list[list[Piece] | None] = []
    for index, rule in enumerate(rules):
        path: PathKey = ("spec", "http", index)
        if not isinstance(rule, Mapping):
            ctx.report(C.UNREADABLE, doc, path, "an http rule is a mapping")
            continue
        report_unread(ctx, doc, path, rule, R.HTTP_ROUTE)
        matches = rule.get("match")
        pieces: list[Piece] = []
        for mi, m in enumerate(matches or []):
            pieces.extend(_pieces(ctx, doc, (*path, "match", mi), m))
        if matches and not pieces:
            # Every match was dropped: the rule matches nothing the neutral spec can see.
            ctx.report(C.FIELD_DROPPED, doc, (*path, "match"), "no match is kept; rule dropped")
            continue
        drafts.append(_route_body(ctx, doc, path, rule, service, resolve, index, names))
        if not matches:
            piece_lists.append(None)
            for later in range(index + 1, len(rules)):
                ctx.report(
                    C.UNREACHABLE_RULE,
                    doc,
                    ("spec", "http", later),
                    f"rule {later} comes after the catch-all rule {index} and never matches",
                    hint="Istio stops at the first rule without `match`",
                )
            break
        piece_lists.append(merge_segment_pairs(pieces))
    result = keep_order(piece_lists)
    for conflict in result.conflicts:
        earlier = drafts[conflict.earlier]["name"]
        later = drafts[conflict.later]["name"]
        why = (
            "Istio takes the earlier rule, the neutral order takes the more specific one"
            if conflict.decided
            else "could not prove that the neutral order picks the same rule"
        )
        ctx.report(
            C.ORDER_CONFLICT,
            doc,
            ("spec", "http", conflict.later),
            f"rule '{later}' overlaps the earlier rule '{earlier}': {why}",
            hint="reorder or narrow the Istio rules so the more specific rule comes first",
            example=conflict.sample or None,
        )
    routes = []
    for draft, pieces in zip(drafts, result.pieces, strict=False):
        matches_out = [p.to_match() for p in pieces]
        if matches_out and matches_out != [{}]:
            draft = {"name": draft["name"], "matches": matches_out, **_without_name(draft)}
        routes.append(draft)
    if SOURCE_ANNOTATION in ((doc.data.get("metadata") or {}).get("annotations") or {}):
        return _as_compiled(routes, rules, service)
    return routes


_COMPILED_NAME = re.compile(r"^(?P<route>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(\d+)$")


def _as_compiled(
    routes: list[dict[str, Any]], rules: list[Any], service: ServiceDraft
) -> list[dict[str, Any]]:
    """meshspec's compiler names each (route, match) rule `<route>.<match index>` and
    writes a service without routes as one unnamed catch-all rule with the neutral
    defaults (15s, no retries): read back, those are the neutral routes again."""
    if (
        len(routes) == 1
        and len(rules) == 1
        and not (rules[0] or {}).get("name")
        and "matches" not in routes[0]
        and set(routes[0]) <= {"name", "backends", "timeout", "retries"}
        and routes[0].get("timeout") == "15s"
        and routes[0].get("retries") == {"attempts": 0}
        and all(set(b) == {"_origin"} for b in routes[0].get("backends") or [])
    ):
        return []
    # Only neighbours are merged back: rules of one neutral route that the compiler's
    # precedence order put apart keep their order as separate routes.
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    previous: str | None = None
    for route, rule in zip(routes, rules, strict=False):
        m = _COMPILED_NAME.match(str((rule or {}).get("name") or ""))
        name = m.group("route") if m else route["name"]
        last = out[-1] if out else None
        if (
            last is not None
            and name == previous
            and "matches" in last
            and "matches" in route
            and _body(last) == _body(route)
        ):
            last["matches"] = [*last["matches"], *route["matches"]]
            continue
        previous = name
        if name in taken:
            name = route["name"]
        taken.add(name)
        out.append({"name": name, **{k: v for k, v in route.items() if k != "name"}})
    return out


def _body(route: Mapping[str, Any]) -> Any:
    """A route without its name and matches, origins left out: what must be equal for
    two compiled rules to be the same neutral route."""
    out = {k: v for k, v in route.items() if k not in ("name", "matches")}
    out["backends"] = [
        {k: v for k, v in b.items() if k != "_origin"} for b in out.get("backends") or []
    ]
    return out


def _without_name(draft: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in draft.items() if k != "name"}


def _route_name(rule: Mapping[str, Any], index: int, names: set[str]) -> str:
    raw = str(rule.get("name") or f"rule-{index}").lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")[:63] or f"rule-{index}"
    if not _DNS.match(name) or name in names:
        name = f"rule-{index}"
    names.add(name)
    return name


def _route_body(
    ctx: ImportContext,
    doc: NativeDocument,
    path: PathKey,
    rule: Mapping[str, Any],
    service: ServiceDraft,
    resolve: Any,
    index: int,
    names: set[str],
) -> dict[str, Any]:
    route: dict[str, Any] = {"name": _route_name(rule, index, names)}
    backends = []
    for di, dest in enumerate(rule.get("route") or []):
        dpath = (*path, "route", di)
        target = (dest.get("destination") or {}) if isinstance(dest, Mapping) else {}
        report_unread(ctx, doc, dpath, dest, R.HTTP_ROUTE_DESTINATION)
        report_unread(ctx, doc, (*dpath, "destination"), target, R.DESTINATION)
        report_unread(
            ctx, doc, (*dpath, "destination", "port"), target.get("port"), R.PORT_SELECTOR
        )
        key = resolve(str(target.get("host", "")), doc.namespace)
        if key is None:
            ctx.report(
                C.HOST_NOT_SERVICE,
                doc,
                (*dpath, "destination", "host"),
                f"destination host {target.get('host')!r} is not a mesh service; dropped",
            )
            continue
        backend: dict[str, Any] = {"_origin": (doc, (*dpath, "destination", "subset"))}
        if key != service.key:
            backend["service"] = key
        if target.get("subset"):
            backend["version"] = str(target["subset"])
        weight = dest.get("weight")
        if weight is None and len(rule.get("route") or []) > 1:
            weight = 0
        if weight is not None:
            backend["weight"] = int(weight)
        port = (target.get("port") or {}).get("number")
        if port is not None:
            draft = ctx.services.get(key)
            if draft is not None and not draft.declared:
                draft.ports.setdefault(int(port), "http")
        if dest.get("headers"):
            ctx.report(C.FIELD_DROPPED, doc, (*dpath, "headers"), "per-destination header edits")
        backends.append(backend)
    if backends and not (len(backends) == 1 and set(backends[0]) == {"_origin"}):
        route["backends"] = backends
    timeout = rule.get("timeout")
    if timeout is None:
        route["timeout"] = "0s"
    else:
        route["timeout"] = _duration(ctx, doc, (*path, "timeout"), timeout) or "0s"
    retries = rule.get("retries")
    if retries is None:
        route["retries"] = default_retries()
        ctx.default_retries_written = True
    else:
        route["retries"] = _retries(ctx, doc, (*path, "retries"), retries)
    edits = _header_edits(ctx, doc, (*path, "headers"), rule.get("headers"))
    if edits:
        route["requestHeaders"] = edits
    for name in R.HTTP_ROUTE.dropped:
        if rule.get(name) is not None:
            ctx.report(
                C.FIELD_DROPPED,
                doc,
                (*path, name),
                f"`{name}` has no neutral equivalent and is dropped",
                example={"method": "GET", "target": "/", "headers": {}}
                if name == "fault"
                else None,
            )
    return route


def _duration(ctx: ImportContext, doc: NativeDocument, path: PathKey, value: Any) -> str | None:
    try:
        seconds = parse_duration(str(value))
    except ValueError as exc:
        ctx.report(C.BAD_VALUE, doc, path, str(exc))
        return None
    return format_duration(seconds) if seconds else "0s"


def _retries(
    ctx: ImportContext, doc: NativeDocument, path: PathKey, retries: Mapping[str, Any]
) -> dict[str, Any]:
    report_unread(ctx, doc, path, retries, R.HTTP_RETRY)
    attempts = int(retries.get("attempts") or 0)
    if attempts <= 0:
        return {"attempts": 0}
    if attempts > 10:
        ctx.report(C.FIELD_DROPPED, doc, (*path, "attempts"), f"{attempts} retries lowered to 10")
        attempts = 10
    per_try = None
    if retries.get("perTryTimeout") is not None:
        per_try = _duration(ctx, doc, (*path, "perTryTimeout"), retries["perTryTimeout"])
    retry_on = str(retries.get("retryOn") or R.DEFAULT_RETRY_ON)
    items = [i.strip() for i in retry_on.split(",") if i.strip()]
    known = {envoy.RETRIABLE_STATUS_CODES, *envoy.RETRY_ON_NAMES}
    for item in items:
        if not item.isdigit() and item not in known and retries.get("retryOn"):
            ctx.report(
                C.FIELD_DROPPED,
                doc,
                (*path, "retryOn"),
                f"retry condition {item!r} has no neutral equivalent",
            )
        if item.isdigit() and not 400 <= int(item) <= 599:
            ctx.report(C.FIELD_DROPPED, doc, (*path, "retryOn"), f"status {item} is not 4xx/5xx")
    kept = ",".join(i for i in items if not i.isdigit() or 400 <= int(i) <= 599)
    for extra in R.HTTP_RETRY.dropped:
        if retries.get(extra) is not None:
            ctx.report(C.FIELD_DROPPED, doc, (*path, extra), f"`{extra}` is not kept")
    return _retries_from(attempts, per_try, kept)


def _header_edits(
    ctx: ImportContext, doc: NativeDocument, path: PathKey, headers: Any
) -> dict[str, Any]:
    if not isinstance(headers, Mapping):
        return {}
    report_unread(ctx, doc, path, headers, R.HEADERS)
    if headers.get("response"):
        ctx.report(C.FIELD_DROPPED, doc, (*path, "response"), "response header edits")
    request = headers.get("request") or {}
    report_unread(ctx, doc, (*path, "request"), request, R.HEADER_OPERATIONS)
    out: dict[str, Any] = {}
    for name in ("set", "add"):
        if request.get(name):
            out[name] = {str(k): str(v) for k, v in request[name].items()}
    if request.get("remove"):
        out["remove"] = [str(v) for v in request["remove"]]
    return out


def _string_cond(
    ctx: ImportContext, doc: NativeDocument, path: PathKey, name: str, cond: Any, query: bool
) -> StringCond | None:
    if not isinstance(cond, Mapping) or not cond:
        return (name, "present", "")
    report_unread(ctx, doc, path, cond, R.STRING_MATCH)
    if "exact" in cond:
        if query and cond["exact"] == "":
            return (name, "present", "")
        return (name, "exact", str(cond["exact"]))
    if "prefix" in cond:
        if query:
            return (name, "regex", re.escape(str(cond["prefix"])) + ".*")
        return (name, "prefix", str(cond["prefix"]))
    if "regex" in cond:
        why = check_regex(str(cond["regex"]))
        if why:
            ctx.report(C.BAD_VALUE, doc, (*path, "regex"), f"regex {cond['regex']!r} {why}")
            return None
        return (name, "regex", str(cond["regex"]))
    ctx.report(C.UNREADABLE, doc, path, "a string match has exact, prefix or regex")
    return None


def _pieces(ctx: ImportContext, doc: NativeDocument, path: PathKey, m: Any) -> list[Piece]:
    if not isinstance(m, Mapping):
        ctx.report(C.UNREADABLE, doc, path, "a match is a mapping")
        return []
    report_unread(ctx, doc, path, m, R.HTTP_MATCH_REQUEST)
    for name in R.HTTP_MATCH_REQUEST.dropped:
        if m.get(name) is not None:
            ctx.report(
                C.FIELD_DROPPED,
                doc,
                (*path, name),
                f"match condition `{name}` has no neutral equivalent; the match ignores it",
            )
    paths = _paths(ctx, doc, path, m)
    methods = _methods(ctx, doc, path, m.get("method"))
    headers: list[StringCond] = []
    for name, cond in (m.get("headers") or {}).items():
        c = _string_cond(ctx, doc, (*path, "headers", str(name)), str(name).lower(), cond, False)
        if c is not None:
            headers.append(c)
    query: list[StringCond] = []
    for name, cond in (m.get("queryParams") or {}).items():
        c = _string_cond(ctx, doc, (*path, "queryParams", str(name)), str(name), cond, True)
        if c is not None:
            query.append(c)
    return [Piece(p, meth, tuple(headers), tuple(query)) for p in paths for meth in methods]


def _paths(
    ctx: ImportContext, doc: NativeDocument, path: PathKey, m: Mapping[str, Any]
) -> list[Any]:
    uri = m.get("uri")
    if uri is None:
        return [None]
    report_unread(ctx, doc, (*path, "uri"), uri, R.STRING_MATCH)
    ignore_case = bool(m.get("ignoreUriCase"))
    if "regex" in uri:
        why = check_regex(str(uri["regex"]))
        if why:
            ctx.report(C.BAD_VALUE, doc, (*path, "uri", "regex"), f"regex {uri['regex']!r} {why}")
            return []
        return [("regex", str(uri["regex"]))]
    kind = "exact" if "exact" in uri else "prefix" if "prefix" in uri else None
    if kind is None:
        ctx.report(C.UNREADABLE, doc, (*path, "uri"), "uri has exact, prefix or regex")
        return []
    value = str(uri[kind])
    why = clean_path_problem(value)
    if why and value not in ("", "/"):
        # Under BASE normalisation Istio can still see such a path (`//x`, `%2F`); the
        # neutral spec normalises every request first, so it never can.
        ctx.report(
            C.FIELD_DROPPED,
            doc,
            (*path, "uri", kind),
            f"path {value!r} {why}; the match is dropped",
            example={"method": "GET", "target": value, "headers": {}},
        )
        return []
    if ignore_case:
        tail = "" if kind == "exact" else ".*"
        return [("regex", "(?i)" + re.escape(value) + tail)]
    if kind == "exact":
        return [("exact", value)]
    return list(string_prefix_pieces(value))


def _methods(ctx: ImportContext, doc: NativeDocument, path: PathKey, cond: Any) -> list[str | None]:
    if cond is None:
        return [None]
    if not isinstance(cond, Mapping):
        return [None]
    report_unread(ctx, doc, (*path, "method"), cond, R.STRING_MATCH)
    chosen = [m for m in METHODS if _method_holds(cond, m)]
    if not chosen:
        ctx.report(
            C.FIELD_DROPPED, doc, (*path, "method"), "no standard method matches; match dropped"
        )
    return list(chosen)


def _method_holds(cond: Mapping[str, Any], method: str) -> bool:
    if "exact" in cond:
        return method == str(cond["exact"])
    if "prefix" in cond:
        return method.startswith(str(cond["prefix"]))
    return re.fullmatch(str(cond.get("regex", "")), method) is not None

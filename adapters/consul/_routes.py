"""service-router, service-splitter and service-resolver entries of one service.

Consul's router takes the first route that matches and sends what no route matches to the
service itself (service-router reference, "Routes": "The routes are evaluated in order ... a
default catch-all route to the service is appended"; consul `agent/consul/discoverychain/
compile.go`), and its `PathPrefix` is Envoy's plain string prefix. So the routes are written in
the spec's precedence order, and a segment prefix `/x` becomes `PathExact "/x"` followed by
`PathPrefix "/x/"`. A route with several weighted backends leads to a splitter on a virtual
service of its own (a router destination without `ServiceSubset` goes through that name's
splitter: service-router reference, `Destination.Service`). Versions are resolver subsets
filtered on the service instances' `Meta` (service-resolver reference, `Subsets.Filter`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from adapters.consul import codes as C
from adapters.consul._names import names_meta, split_name
from adapters.consul.entries import (
    SERVICE_RESOLVER,
    SERVICE_ROUTER,
    SERVICE_SPLITTER,
    entry,
    meta_key,
)
from adapters.kit import CompileContext
from meshspec.durations import format_duration
from meshspec.semantics.routing import ordered_candidates
from meshspec.spec import HeaderMatch, PathMatch, QueryParamMatch, Spec
from meshspec.spec.routes import HeaderEdits, Retries, Route, RouteMatch

#: Consul releases whose service-router strips a PathPrefix that has no PrefixRewrite
#: (hashicorp/consul#23339: the regex rewrite of backport #23044 into 1.22.x, undone by
#: PR #23390, backport #23395; 1.22.5 shows it on this project's live target).
PREFIX_BUG = ((1, 22, 0), (1, 22, 5))


def prefix_bug(version: str) -> bool:
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    return PREFIX_BUG[0] <= parts <= PREFIX_BUG[1]


@dataclass
class Chain:
    router: dict[str, Any] | None
    splitters: list[tuple[str, dict[str, Any]]]


def resolver(spec: Spec, key: str, found: CompileContext) -> dict[str, Any] | None:
    """Subsets named after the versions, filtered on the labels as service meta."""
    svc = spec.service(key)
    if not svc.spec.versions:
        return None
    for i, v in enumerate(svc.spec.versions):
        renamed = sorted(k for k in v.selector if meta_key(k) != k)
        if renamed:
            found.report(
                C.META_KEY_RENAMED,
                key,
                ("spec", "versions", i, "labels"),
                f"register the instances of version {v.name} with meta "
                + ", ".join(f"{meta_key(k)}={v.selector[k]}" for k in renamed),
                hint="Consul rejects a meta key with other characters",
            )
    subsets = {
        v.name: {
            "Filter": " and ".join(_meta_filter(k, val) for k, val in sorted(v.selector.items()))
        }
        for v in svc.spec.versions
    }
    return entry(SERVICE_RESOLVER, svc.metadata.name, Subsets=subsets)


def _meta_filter(label: str, value: str) -> str:
    return f"Service.Meta.{meta_key(label)} == {json.dumps(value)}"


def chain(spec: Spec, key: str, found: CompileContext, version: str) -> Chain:
    """The router of a service with routes, and the splitters its routes lead to."""
    svc = spec.service(key)
    name = svc.metadata.name
    routes: list[dict[str, Any]] = []
    names: list[tuple[str, str]] = []
    splitters: list[tuple[str, dict[str, Any]]] = []
    split_done: set[str] = set()
    catch_all = False
    rewrote = False
    for cand in ordered_candidates(svc):
        route = cand.route
        where: tuple[str | int, ...] = ("spec", "routes", cand.route_index)
        destination, split = _destination(spec, key, route, where, found)
        if split is not None and route.name not in split_done:
            split_done.add(route.name)
            splitters.append(split)
        match = cand.match or RouteMatch()
        if cand.match is not None:
            where = (*where, "matches", cand.match_index or 0)
        for http in _matches(match, key, where, found):
            dest = dict(destination)
            prefix = http.get("PathPrefix")
            if prefix is not None and prefix_bug(version):
                dest["PrefixRewrite"] = prefix
                rewrote = True
            consul_route: dict[str, Any] = {}
            if http:
                consul_route["Match"] = {"HTTP": http}
            else:
                catch_all = True
            consul_route["Destination"] = dest
            names.append((str(len(routes)), route.name))
            routes.append(consul_route)
            if catch_all:
                break
        if catch_all:
            break
    if not routes:
        return Chain(None, splitters)
    if rewrote:
        found.report(
            C.PREFIX_REWRITE,
            key,
            ("spec", "routes"),
            f"Consul {version}: every PathPrefix route of {name} gets PrefixRewrite equal to its "
            "prefix, so the path reaches the service unchanged",
            hint="drop the PrefixRewrite once the agents run a release with hashicorp/consul#23395",
        )
    if any(_path_sensitive(m.path) for r in svc.spec.routes for m in r.matches):
        found.report(
            C.ROUTING_RAW_PATH,
            key,
            ("spec", "routes"),
            f"a request to {name} for a path such as //x or /a/../x takes the route of that "
            "path as written; the spec routes on the normalised path",
            hint="clients that send normalised paths are routed as the spec says",
        )
    if not catch_all:
        found.report(
            C.FALL_THROUGH,
            key,
            ("spec", "routes"),
            f"a request to {name} that no route matches reaches {name} itself, not 404",
            hint="add a route with no matches (a catch-all) to say where such requests go",
        )
    meta = names_meta(names)
    if meta is None:
        found.report(
            C.NAMES_TOO_LONG,
            key,
            ("spec", "routes"),
            f"the neutral names of {name}'s {len(names)} routes are not written",
            hint="shorter route names keep them",
        )
    router = entry(SERVICE_ROUTER, name, Meta=meta or {}, Routes=routes)
    return Chain(router, splitters)


def _path_sensitive(path: PathMatch | None) -> bool:
    """Whether a match can tell a path as sent from its normalised form (not `/` itself)."""
    if path is None:
        return False
    return path.prefix is None or bool(path.prefix.rstrip("/"))


def _matches(
    match: RouteMatch, key: str, where: tuple[str | int, ...], found: CompileContext
) -> list[dict[str, Any]]:
    """One `Match.HTTP` per path condition (a segment prefix needs two)."""
    common: dict[str, Any] = {}
    if match.method is not None:
        common["Methods"] = [match.method]
    if match.headers:
        common["Header"] = [_route_header(h) for h in match.headers]
        if any(not h.present for h in match.headers):
            found.report(
                C.ROUTE_HEADER_LINES,
                key,
                (*where, "headers"),
                "Envoy tests each line of a repeated header on its own: a request that sends the "
                "header twice can take this route where the spec does not",
                hint="",
            )
    if match.query_params:
        common["QueryParam"] = [_query(q) for q in match.query_params]
    return [{**path, **copy.deepcopy(common)} for path in path_conditions(match.path)]


def path_conditions(path: PathMatch | None) -> list[dict[str, str]]:
    """Consul path conditions equal to a segment-aware neutral path match."""
    if path is None:
        return [{}]
    if path.exact is not None:
        return [{"PathExact": path.exact}]
    if path.regex is not None:
        return [{"PathRegex": path.regex}]
    prefix = (path.prefix or "/").rstrip("/")
    if not prefix:
        return [{}]
    return [{"PathExact": prefix}, {"PathPrefix": prefix + "/"}]


def _route_header(h: HeaderMatch) -> dict[str, Any]:
    if h.present:
        return {"Name": h.name, "Present": True}
    if h.exact is not None:
        return {"Name": h.name, "Exact": h.exact}
    if h.prefix is not None:
        return {"Name": h.name, "Prefix": h.prefix}
    return {"Name": h.name, "Regex": h.regex}


def _query(q: QueryParamMatch) -> dict[str, Any]:
    if q.present:
        return {"Name": q.name, "Present": True}
    if q.exact is not None:
        return {"Name": q.name, "Exact": q.exact}
    return {"Name": q.name, "Regex": q.regex}


def _destination(
    spec: Spec, key: str, route: Route, where: tuple[str | int, ...], found: CompileContext
) -> tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]:
    svc = spec.service(key)
    namespace = svc.metadata.namespace
    weights: dict[tuple[str, str | None], int] = {}
    for b in route.backends:
        if b.weight <= 0:
            continue
        target = key if b.service is None else spec.resolve(b.service, namespace) or key
        at = (spec.service(target).metadata.name, b.version)
        weights[at] = weights.get(at, 0) + b.weight
    targets = [(service, version, w) for (service, version), w in weights.items()]
    if not targets:
        targets = [(svc.metadata.name, None, 1)]
    dest: dict[str, Any] = {}
    split: tuple[str, dict[str, Any]] | None = None
    if len(targets) == 1:
        dest["Service"] = targets[0][0]
        if targets[0][1] is not None:
            dest["ServiceSubset"] = targets[0][1]
    else:
        virtual = split_name(svc.metadata.name, route.name)
        dest["Service"] = virtual
        split = (virtual, _splitter(virtual, targets, key, (*where, "backends"), found))
    if route.timeout is not None:
        dest["RequestTimeout"] = format_duration(route.timeout) if route.timeout else "-1s"
    if route.retries is not None and route.retries.attempts > 0:
        dest.update(_retries(route.retries, key, (*where, "retries"), found))
    if route.request_headers is not None:
        edits = _header_edits(route.request_headers, key, (*where, "requestHeaders"), found)
        if edits:
            dest["RequestHeaders"] = edits
    return dest, split


def _retries(
    retries: Retries, key: str, where: tuple[str | int, ...], found: CompileContext
) -> dict[str, Any]:
    """NumRetries and the conditions (service-router reference, `Destination.RetryOn`)."""
    out: dict[str, Any] = {"NumRetries": retries.attempts}
    if retries.retry_on:
        out["RetryOn"] = [str(r) for r in retries.retry_on]
    if retries.status_codes:
        out["RetryOnStatusCodes"] = list(retries.status_codes)
    if retries.per_try_timeout is not None:
        found.report(
            C.PER_TRY_TIMEOUT,
            key,
            (*where, "perTryTimeout"),
            "each try may take the whole request timeout",
            hint="Consul's RequestTimeout bounds the request with all its retries",
        )
    return out


def _header_edits(
    edits: HeaderEdits, key: str, where: tuple[str | int, ...], found: CompileContext
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if edits.set:
        out["Set"] = dict(edits.set)
    if edits.add:
        out["Add"] = dict(edits.add)
    if edits.remove:
        out["Remove"] = list(edits.remove)
    removed = {n.lower() for n in edits.remove}
    both = sorted(n for n in [*edits.set, *edits.add] if n.lower() in removed)
    both += sorted(n for n in edits.set if n.lower() in {a.lower() for a in edits.add})
    if both:
        found.report(
            C.HEADER_EDIT_ORDER,
            key,
            where,
            f"header {both[0]} is edited twice; Envoy removes first, then sets, then adds",
            hint="",
        )
    return out


def _splitter(
    name: str,
    targets: list[tuple[str, str | None, int]],
    key: str,
    where: tuple[str | int, ...],
    found: CompileContext,
) -> dict[str, Any]:
    """Weights as percentages with two decimals summing to exactly 100
    (service-splitter reference, `Splits[].Weight`)."""
    total = sum(w for _, _, w in targets)
    hundredths = [w * 10000 / total for _, _, w in targets]
    rounded = [int(h) for h in hundredths]
    # largest remainders first, ties to the earlier backend: deterministic
    order = sorted(range(len(targets)), key=lambda i: (-(hundredths[i] - rounded[i]), i))
    for i in order[: 10000 - sum(rounded)]:
        rounded[i] += 1
    if any(r != h for r, h in zip(rounded, hundredths, strict=True)):
        shares = ", ".join(
            f"{t[0]}{'/' + t[1] if t[1] else ''} {r / 100:g}%"
            for t, r in zip(targets, rounded, strict=True)
        )
        found.report(
            C.SPLIT_ROUNDED,
            key,
            where,
            f"the weights cannot be written exactly as percentages: {shares}",
            hint="use weights whose shares are whole hundredths of a percent",
        )
    splits = []
    for (service, version, _), r in zip(targets, rounded, strict=True):
        split: dict[str, Any] = {"Weight": r / 100 if r % 100 else r // 100, "Service": service}
        if version is not None:
            split["ServiceSubset"] = version
        splits.append(split)
    return entry(SERVICE_SPLITTER, name, Splits=splits)

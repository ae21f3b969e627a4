"""Neutral routes -> GAMMA HTTPRoutes as Linkerd's proxy reads them.

Linkerd's outbound proxy picks the best match over every rule of every route of a
Service, but ranks it its own way (linkerd2-proxy `linkerd/http/route/src/http/
match.rs`, `match/path.rs`, version-2.20): the path by matched length only (an Exact
and a PathPrefix of the same length tie; a regex counts as the whole request path),
then the number of header matches, then query matches, then the method; ties go to
the older route, then its name, then rule order. The spec ranks exact before prefix
before regex, and the method before headers. So the compiler:

1. writes one rule per neutral (route, match), in the spec's precedence order, so
   every tie Linkerd leaves to order goes to the match the spec prefers;
2. where Linkerd would rank a less specific (in the spec) match strictly higher for a
   request both accept, adds the intersection of the two matches to the preferred
   route, which Linkerd ranks at least as high and finds first (exact);
3. reports what it cannot fix that way (a regex against a prefix, clashing header
   conditions) with a request that would take another route (MS2003).

Retries are annotations on the HTTPRoute (not per rule), so consecutive rules with the
same retry policy share an HTTPRoute; several HTTPRoutes of a Service are named so
that their names sort in precedence order (ties between routes created in the same
second go to the first by name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from adapters import _gamma as G
from adapters._k8s import duration
from adapters.linkerd import codes as C
from adapters.linkerd import resources as R
from meshspec.codes import Code
from meshspec.semantics import precedence_key
from meshspec.spec import HeaderMatch, PathMatch, QueryParamMatch, RetryOn, Route, RouteMatch, Spec
from meshspec.spec.bundle import PathKey

Report = Callable[[Code, str, PathKey, str], None]
#: intersections added per service at most (each pass may add more)
MAX_FIXES = 64


@dataclass(frozen=True)
class Candidate:
    """One rule to write: a match of a neutral route (None: the route has no matches)."""

    route_index: int
    route: Route
    match: RouteMatch | None
    #: the match indexes it came from (two for an intersection)
    origin: tuple[int, ...]


def _path(m: RouteMatch | None) -> PathMatch | None:
    return None if m is None else m.path


def _linkerd_path(m: RouteMatch | None, sample: str) -> int:
    """Matched length as Linkerd counts it for a request path `sample` that matches."""
    p = _path(m)
    if p is None:
        return 1
    if p.prefix is not None:
        return max(len(p.prefix.rstrip("/")), 1)
    if p.exact is not None:
        return len(p.exact)
    return len(sample)


def linkerd_rank(m: RouteMatch | None, sample: str) -> tuple[int, int, int, int]:
    if m is None:
        return (1, 0, 0, 0)
    return (
        _linkerd_path(m, sample),
        len(m.headers),
        len(m.query_params),
        int(m.method is not None),
    )


def _prefix_holds(prefix: str, path: str) -> bool:
    p = prefix.rstrip("/")
    return not p or path == p or path.startswith(p + "/")


def _holds(p: PathMatch | None, path: str) -> bool:
    if p is None:
        return True
    if p.exact is not None:
        return path == p.exact
    if p.prefix is not None:
        return _prefix_holds(p.prefix, path)
    try:
        return re.fullmatch(p.regex or "", path) is not None
    except re.error:
        return False


def _samples(p: PathMatch | None) -> Sequence[str]:
    """Request paths a path condition accepts (for finding shared requests)."""
    if p is None:
        return ["/", "/x"]
    if p.exact is not None:
        return [p.exact]
    if p.prefix is not None:
        base = p.prefix.rstrip("/")
        return [base or "/", f"{base}/x", f"{base}/x/y"]
    return regex_samples(p.regex or "")


@lru_cache(maxsize=4096)
def regex_samples(pattern: str) -> tuple[str, ...]:
    """A few strings a simple regex accepts: literal text with `.*`/`.+`/`[^/]+` filled.
    Remembered per pattern: the precedence checks ask again for every pair of matches,
    and services often share their patterns."""
    text = pattern.strip("^$")
    for wild, fill in ((".*", "x"), (".+", "x"), ("[^/]+", "x"), ("[0-9]+", "1"), (r"\d+", "1")):
        text = text.replace(wild, fill)
    text = text.replace("\\", "")
    return tuple(t for t in (text, "/x", "/") if _safe_match(pattern, t))


def _safe_match(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


def shared_path(a: RouteMatch | None, b: RouteMatch | None) -> str | None:
    """A request path both matches accept, when one can be found."""
    for sample in [*_samples(_path(a)), *_samples(_path(b))]:
        if _holds(_path(a), sample) and _holds(_path(b), sample):
            return sample
    return None


def _disjoint_fields(a: RouteMatch | None, b: RouteMatch | None) -> bool:
    if a is None or b is None:
        return False
    if a.method and b.method and a.method != b.method:
        return True
    for ha in a.headers:
        for hb in b.headers:
            if ha.name == hb.name and None not in (ha.exact, hb.exact) and ha.exact != hb.exact:
                return True
    for qa in a.query_params:
        for qb in b.query_params:
            if qa.name == qb.name and None not in (qa.exact, qb.exact) and qa.exact != qb.exact:
                return True
    return False


def _merge(first: tuple[Any, ...], second: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Conditions of both, one per name (Gateway API keys them by name); None when the two
    set different conditions on one name."""
    out = list(first)
    for cond in second:
        same = [c for c in out if c.name == cond.name]
        if not same:
            out.append(cond)
        elif same[0] != cond:
            return None
    return tuple(out)


def _everything(p: PathMatch | None) -> bool:
    return p is None or (p.prefix is not None and p.prefix.rstrip("/") == "")


def _narrower(x: PathMatch, y: PathMatch) -> bool:
    """Every path `x` accepts, `y` accepts too (as far as can be told)."""
    if _everything(y) or x == y:
        return True
    if x.exact is not None:
        return _holds(y, x.exact)
    if y.prefix is not None and x.regex is not None:
        return _under(x.regex, y.prefix)
    if x.prefix is not None and y.prefix is not None:
        return _prefix_holds(y.prefix, x.prefix.rstrip("/"))
    return False


def meet_path(pa: PathMatch | None, pb: PathMatch | None) -> tuple[bool, PathMatch | None]:
    """(found, the path condition of both); the narrower one when one contains the other."""
    if pa is None:
        return True, pb
    if pb is None:
        return True, pa
    if _narrower(pa, pb):
        return True, pa
    if _narrower(pb, pa):
        return True, pb
    return False, None


def intersection(a: RouteMatch | None, b: RouteMatch | None) -> RouteMatch | None:
    """One match that holds exactly when both do, when Gateway API can write it."""
    found, path = meet_path(_path(a), _path(b))
    if not found:
        return None
    ma = a or RouteMatch()
    mb = b or RouteMatch()
    if ma.method and mb.method and ma.method != mb.method:
        return None
    headers = _merge(ma.headers, mb.headers)
    query = _merge(ma.query_params, mb.query_params)
    if headers is None or query is None:
        return None
    return RouteMatch(
        path=path,
        method=ma.method or mb.method,
        headers=tuple(h for h in headers if isinstance(h, HeaderMatch)),
        query_params=tuple(q for q in query if isinstance(q, QueryParamMatch)),
    )


_META = set(".^$*+?{}[]\\|()")


def literal_prefix(pattern: str) -> str:
    """The text every match of `pattern` starts with (its leading literal characters, less
    one that a quantifier makes optional)."""
    out = ""
    for ch in pattern:
        if ch in _META:
            if ch in "*?{" and out:
                out = out[:-1]
            return out
        out += ch
    return out


def _under(regex: str, prefix: str) -> bool:
    """Every path the regex matches lies under the segment prefix."""
    base = prefix.rstrip("/")
    return not base or literal_prefix(regex).startswith(base + "/")


def sample_request(m: RouteMatch | None) -> tuple[str, str, dict[str, str]] | None:
    """(path, method, headers) of a request the match accepts, when one can be made (a
    query condition is left to the caller: None)."""
    if m is None:
        return "/", "GET", {}
    if m.query_params:
        return None
    paths = _samples(m.path)
    if not paths:
        return None
    headers: dict[str, str] = {}
    for h in m.headers:
        if h.exact is not None:
            headers[h.name] = h.exact
        elif h.prefix is not None:
            headers[h.name] = h.prefix + "x"
        elif h.regex is not None:
            found = regex_samples(h.regex)
            if not found:
                return None
            headers[h.name] = found[0]
        else:
            headers[h.name] = "1"
    return paths[0], m.method or "GET", headers


def candidates(routes: tuple[Route, ...]) -> list[Candidate]:
    keyed = []
    for ri, route in enumerate(routes):
        if not route.matches:
            keyed.append((precedence_key(None, ri, 0), Candidate(ri, route, None, ())))
        for mi, m in enumerate(route.matches):
            keyed.append((precedence_key(m, ri, mi), Candidate(ri, route, m, (mi,))))
    keyed.sort(key=lambda kc: kc[0])
    return [c for _, c in keyed]


def conflict(a: Candidate, b: Candidate) -> str | None:
    """A request path on which Linkerd would rank `b` (later) strictly above `a`, though both
    accept the request; None when Linkerd agrees with the spec for every such request."""
    if _disjoint_fields(a.match, b.match):
        return None
    sample = shared_path(a.match, b.match)
    if sample is None:
        return None
    if linkerd_rank(b.match, sample) > linkerd_rank(a.match, sample):
        return sample
    return None


def fix_precedence(
    ordered: list[Candidate], report: Callable[[Candidate, Candidate, str, bool], None]
) -> list[Candidate]:
    """Add intersections until Linkerd's choice is the spec's for every pair it can check."""
    out = list(ordered)
    added = 0
    changed = True
    seen: set[tuple[int, int]] = set()
    # each pair's conflict and meet, asked once: every fix starts the scan over, and the
    # candidates stay in `out` (so their ids name them) until the end
    checked: dict[tuple[int, int], tuple[str | None, RouteMatch | None]] = {}
    # pairs whose meet is already written before them (it stays there: fixes only insert)
    settled: set[tuple[int, int]] = set()
    while changed and added < MAX_FIXES:
        changed = False
        for i, a in enumerate(out):
            for j in range(i + 1, len(out)):
                b = out[j]
                if b.route_index == a.route_index:
                    continue  # the same route either way
                key = (id(a), id(b))
                if key not in checked:
                    found = conflict(a, b)
                    checked[key] = (
                        found,
                        None if found is None else intersection(a.match, b.match),
                    )
                sample, both = checked[key]
                if sample is None or key in settled:
                    continue
                if both is None:
                    if key not in seen:
                        seen.add(key)
                        report(a, b, sample, False)
                    continue
                fixed = Candidate(a.route_index, a.route, both, (*a.origin, *b.origin))
                if any(c.route_index == a.route_index and c.match == both for c in out[:j]):
                    settled.add(key)
                    continue  # already fixed: a copy of the pair's meet wins first
                report(a, b, sample, True)
                out.insert(i, fixed)
                added += 1
                changed = True
                break
            if changed:
                break
    return out


def retry_annotations(
    route: Route, report: Callable[[str, PathKey, str], None], base: PathKey
) -> dict[str, str]:
    """The route's retry policy as `retry.linkerd.io/*` (the limit always written: it
    defaults to 1)."""
    r = route.retries
    if r is None or r.attempts == 0:
        return {}
    codes: list[str] = []
    if RetryOn.SERVER_ERROR in r.retry_on:
        codes.append("5xx")
    elif RetryOn.GATEWAY_ERROR in r.retry_on:
        codes.append("gateway-error")
    codes += [str(c) for c in sorted(set(r.status_codes))]
    lost = [str(o) for o in r.retry_on if o in (RetryOn.CONNECT_FAILURE, RetryOn.RESET)]
    if lost:
        report(
            "retry",
            (*base, "retries", "retryOn"),
            f"Linkerd retries refused streams, unavailable backends and per-try timeouts, "
            f"never {', '.join(lost)}",
        )
    report("body", (*base, "retries"), "requests with bodies over 64 KiB are sent once")
    out = {R.RETRY_LIMIT: str(r.attempts)}
    if codes:
        out[R.RETRY_HTTP] = ",".join(codes)
    if r.per_try_timeout is not None:
        out[R.RETRY_TIMEOUT] = duration(r.per_try_timeout)
    return out


def service_routes(spec: Spec, key: str, report: Report) -> list[dict[str, Any]]:
    svc = spec.service(key)
    ports = G.http_ports(svc.spec.ports)
    several = len(ports) > 1
    out: list[dict[str, Any]] = []

    def lost(path: PathKey, message: str) -> None:
        report(C.PRECEDENCE, key, path, message)

    def precedence(a: Candidate, b: Candidate, sample: str, fixed: bool) -> None:
        if fixed:
            return
        where: PathKey = ("spec", "routes", b.route_index)
        report(
            C.PRECEDENCE,
            key,
            where,
            f"a request to {sample} matches routes '{a.route.name}' and '{b.route.name}': "
            f"the spec takes '{a.route.name}', Linkerd's proxy '{b.route.name}'",
        )

    # the same for every port (what it finds is reported once)
    ordered = fix_precedence(candidates(svc.spec.routes), precedence) if ports else []
    # a route's retry annotations, the same for each of its matches and ports
    retries: dict[int, dict[str, str]] = {}
    for port in ports:
        name = G.route_name_of(svc.metadata.name, port.port, several)
        parent_port = port.port if several else None
        if not svc.spec.routes:
            rule = G.default_rule(spec, key, port.port)
            out.append(G.http_route(spec, key, name, parent_port, [rule], [""]))
            continue
        rules: list[tuple[dict[str, str], str, dict[str, Any]]] = []
        for cand in ordered:
            base: PathKey = ("spec", "routes", cand.route_index)
            if cand.route_index not in retries:
                retries[cand.route_index] = retry_annotations(
                    cand.route,
                    lambda what, path, msg: _retry_report(report, key, what, path, msg),
                    base,
                )
            annotations = retries[cand.route_index]
            rule = G.build_rule(spec, key, port.port, cand.route, cand.route_index, [0], lost)
            if cand.match is not None:
                rule["matches"] = [G.native_match(cand.match, base, lost)]
            rules.append((annotations, cand.route.name, rule))
        chunks: list[list[tuple[dict[str, str], str, dict[str, Any]]]] = []
        for item in rules:
            if chunks and chunks[-1][0][0] == item[0] and len(chunks[-1]) < G.MAX_RULES:
                chunks[-1].append(item)
            else:
                chunks.append([item])
        if len(chunks) > 1:
            report(
                C.ROUTE_ORDER_TIME,
                key,
                ("spec", "routes"),
                f"the routes need {len(chunks)} HTTPRoutes (retry policies are per HTTPRoute); "
                "apply them together so that ties go to the first by name",
            )
        width = len(str(len(chunks) - 1))
        for n, chunk in enumerate(chunks):
            route_name = name if len(chunks) == 1 else f"{name}-{n:0{width}d}"
            out.append(
                G.http_route(
                    spec,
                    key,
                    route_name,
                    parent_port,
                    [r for _, _, r in chunk],
                    [neutral for _, neutral, _ in chunk],
                    annotations=chunk[0][0],
                )
            )
    return out


def _retry_report(report: Report, key: str, what: str, path: PathKey, message: str) -> None:
    code = C.RETRY_CONDITION if what == "retry" else C.RETRY_BODY_LIMIT
    report(code, key, path, message)

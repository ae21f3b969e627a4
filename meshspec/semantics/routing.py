"""Which route a request takes: the most specific match wins.

Precedence (Gateway API HTTPRoute order): an exact path beats any prefix, a
prefix beats any regex; among prefixes (and among regexes) the longer value
wins; then a match with a method; then more header conditions; then more
query conditions; remaining ties go to the earlier route, then the earlier
match. A match without a path counts as prefix `/`. If a service has routes
and none matches, the request gets 404. A service without routes sends
everything to all its endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from meshspec.semantics.matching import route_match_holds
from meshspec.semantics.memo import SERVICES
from meshspec.semantics.paths import NormalizedTarget
from meshspec.spec import PathMatchType, Route, RouteMatch, ServiceDocument

_PATH_RANK = {PathMatchType.EXACT: 3, PathMatchType.PREFIX: 2, PathMatchType.REGEX: 1}


def precedence_key(match: RouteMatch | None, route_index: int, match_index: int) -> tuple[int, ...]:
    """Smaller sorts first, i.e. wins. `None` is a route without matches."""
    if match is None or match.path is None:
        rank, length = _PATH_RANK[PathMatchType.PREFIX], 1
    else:
        rank = _PATH_RANK[match.path.type]
        value = match.path.value
        length = len(value.rstrip("/") or "/") if match.path.prefix is not None else len(value)
    method = 1 if match is not None and match.method is not None else 0
    headers = len(match.headers) if match is not None else 0
    query = len(match.query_params) if match is not None else 0
    return (-rank, -length, -method, -headers, -query, route_index, match_index)


@dataclass(frozen=True)
class Candidate:
    route_index: int
    match_index: int | None
    route: Route
    match: RouteMatch | None


def ordered_candidates(service: ServiceDocument) -> tuple[Candidate, ...]:
    """Every (route, match) of a service in precedence order (memoised per object)."""
    return SERVICES.remembered(service, "ordered_candidates", lambda: _order(service))


def _order(service: ServiceDocument) -> tuple[Candidate, ...]:
    cands: list[tuple[tuple[int, ...], Candidate]] = []
    for ri, route in enumerate(service.spec.routes):
        if not route.matches:
            cands.append((precedence_key(None, ri, 0), Candidate(ri, None, route, None)))
        for mi, m in enumerate(route.matches):
            cands.append((precedence_key(m, ri, mi), Candidate(ri, mi, route, m)))
    cands.sort(key=lambda kc: kc[0])
    return tuple(c for _, c in cands)


@dataclass(frozen=True)
class RouteSelection:
    """The winning route and match; `route is None` with `matched` False means 404."""

    route: Route | None
    match_index: int | None
    matched: bool


def select_route(
    service: ServiceDocument, method: str, target: NormalizedTarget, headers: Mapping[str, str]
) -> RouteSelection:
    if not service.spec.routes:
        return RouteSelection(route=None, match_index=None, matched=True)
    for cand in ordered_candidates(service):
        if cand.match is None or route_match_holds(cand.match, method, target, headers):
            return RouteSelection(cand.route, cand.match_index, True)
    return RouteSelection(route=None, match_index=None, matched=False)

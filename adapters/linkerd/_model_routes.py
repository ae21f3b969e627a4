"""How Linkerd's proxy picks a route among HTTPRoute rules, outbound and inbound alike.

linkerd2-proxy `linkerd/http/route/src/lib.rs` (`find`) walks every rule of every
route the control plane sent (routes ordered oldest first, then by name: linkerd2
`policy-controller/grpc/src/outbound.rs` `timestamp_then_name`) and keeps a match only
when it is strictly better than the best so far, so ties go to the first.
`http/match.rs` orders two matches by the path's matched length, then the number of
header matches, then of query matches, then whether a method is given; `match/path.rs`
gives the length: an Exact path its length, a PathPrefix its length without the
trailing `/` (`/` counts 1) when the path, trailing `/` trimmed, continues with `/` or
ends there, a regex the whole request path's length when it matches anchored at both
ends. Header matches (`match/header.rs`) hold when any line of the header matches,
each line on its own; a regex must cover the whole value.

linkerd2-proxy PR #4604 ("adjust route matching to more closely align to gateway api
httproute spec") ranks an Exact path above any other path kind and the method before
headers; `PR_4604` selects that behaviour (research notes: merged upstream, not yet on
the 2.20 proxy's main snapshot of 2026-08-21).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from adapters import _gamma as G

MAIN = "main"
PR_4604 = "pr-4604"
PROXY_BEHAVIOURS = (MAIN, PR_4604)

Rank = tuple[int, ...]


def _anchored(pattern: str, value: str) -> bool:
    """The proxy's regex test: the leftmost match must span the whole value."""
    try:
        m = re.search(pattern, value)
    except re.error:
        return False
    return m is not None and m.start() == 0 and m.end() == len(value)


def path_length(m: G.NativeMatch, path: str) -> tuple[bool, int] | None:
    """(is exact, matched length) or None."""
    if m.path_type == "Exact":
        return (True, len(m.path_value)) if path == m.path_value else None
    if m.path_type == "RegularExpression":
        return (False, len(path)) if _anchored(m.path_value, path) else None
    if m.path_type != "PathPrefix":
        return None
    if m.path_value == "/":
        return (False, 1)
    prefix = m.path_value.rstrip("/")
    trimmed = path.rstrip("/")
    if not trimmed.startswith(prefix):
        return None
    rest = trimmed[len(prefix) :]
    return (False, len(prefix)) if rest == "" or rest.startswith("/") else None


def _header_holds(kind: str, name: str, value: str, lines: Mapping[str, Sequence[str]]) -> bool:
    values = lines.get(name, ())
    if kind == "Exact":
        return any(v == value for v in values)
    return any(_anchored(value, v) for v in values)


def _query_holds(kind: str, name: str, value: str, query: str) -> bool:
    for part in query.split("&") if query else []:
        key, _, got = part.partition("=")
        if key == name and (got == value if kind == "Exact" else _anchored(value, got)):
            return True
    return False


def rank(
    m: G.NativeMatch,
    method: str,
    path: str,
    query: str,
    lines: Mapping[str, Sequence[str]],
    behaviour: str = MAIN,
) -> Rank | None:
    matched = path_length(m, path)
    if matched is None:
        return None
    if m.method is not None and m.method != method:
        return None
    if not all(_header_holds(k, n, v, lines) for k, n, v in m.headers):
        return None
    if not all(_query_holds(k, n, v, query) for k, n, v in m.query):
        return None
    exact, length = matched
    has_method = int(m.method is not None)
    if behaviour == PR_4604:
        return (int(exact), length, has_method, len(m.headers), len(m.query))
    return (length, len(m.headers), len(m.query), has_method)


def best_rule(
    routes: Sequence[G.HttpRoute],
    method: str,
    path: str,
    query: str,
    lines: Mapping[str, Sequence[str]],
    behaviour: str = MAIN,
) -> tuple[G.HttpRoute, int, G.Rule] | None:
    best: tuple[Rank, G.HttpRoute, int, G.Rule] | None = None
    for route in routes:
        for i, rule in enumerate(route.rules):
            for m in rule.matches:
                r = rank(m, method, path, query, lines, behaviour)
                if r is not None and (best is None or r > best[0]):
                    best = (r, route, i, rule)
    return None if best is None else best[1:]

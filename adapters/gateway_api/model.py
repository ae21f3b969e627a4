"""Gateway API's own meaning of GAMMA HTTPRoutes, as the specification writes it: what a
conformant mesh must do, whatever the mesh. The `linkerd` model shows where one mesh's
proxy differs.

Source: kubernetes-sigs/gateway-api v1.2.1 `apis/v1/httproute_types.go`:
* match precedence across every rule of every applicable route: an Exact path, then
  the PathPrefix with the most characters, then a method match, then the most header
  matches, then the most query matches; then the oldest route, then `namespace/name`
  alphabetically, then rule order (`HTTPRouteRule` comment). Regex precedence is
  implementation-specific: this model ranks regex paths after every prefix, longer
  pattern first (the spec's choice), and the adapter declares regex unsupported;
* PathPrefix is element-wise (`/abc` matches `/abc/d`, never `/abcd`); no matches means
  prefix `/`; header names are case-insensitive and only a header's first entry in a
  match counts; query parameters likewise;
* with routes attached, a request no rule matches gets 404; a weighted backend that
  cannot be resolved gets 500 for its share;
* `timeouts.request` bounds the whole request; unset is implementation-specific
  (reported as no timeout); retries are experimental (none here).
Paths are matched as sent: Gateway API defines no normalisation for mesh traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters import _gamma as G
from adapters import _gamma_model as M
from meshspec.adapter import Topology, Verdict
from meshspec.semantics import Outcome, Request

#: (path rank, path length, method, headers, query): larger wins
Rank = tuple[int, int, int, int, int]
_EXACT, _PREFIX, _REGEX = 3, 2, 1


def _lines(headers: Mapping[str, Any]) -> dict[str, str]:
    """Lower-case names to values, repeated lines joined with `,`, whitespace trimmed."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        values = [value] if isinstance(value, str) else list(value)
        joined = ",".join(v.strip(" \t") for v in values)
        key = name.lower()
        out[key] = f"{out[key]},{joined}" if key in out else joined
    return out


def _first(conditions: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    seen: set[str] = set()
    out = []
    for cond in conditions:
        if cond[1] not in seen:
            seen.add(cond[1])
            out.append(cond)
    return out


def rank(
    m: G.NativeMatch, method: str, path: str, query: str, headers: Mapping[str, str]
) -> Rank | None:
    """How specific `m` is for this request; None when it does not match."""
    if m.path_type == "Exact":
        if path != m.path_value:
            return None
        path_rank: tuple[int, int] = (_EXACT, len(m.path_value))
    elif m.path_type == "PathPrefix":
        length = G.prefix_length(m.path_value, path)
        if length is None:
            return None
        path_rank = (_PREFIX, length)
    elif m.path_type == "RegularExpression":
        if not G.anchored(m.path_value, path):
            return None
        path_rank = (_REGEX, len(m.path_value))
    else:
        return None
    if m.method is not None and m.method != method:
        return None
    for kind, name, value in _first(m.headers):
        got = headers.get(name)
        if got is None or not (got == value if kind == "Exact" else G.anchored(value, got)):
            return None
    for kind, name, value in _first(m.query):
        got = G.query_value(query, name)
        if got is None or not (got == value if kind == "Exact" else G.anchored(value, got)):
            return None
    return (*path_rank, int(m.method is not None), len(_first(m.headers)), len(_first(m.query)))


class GatewayApiModel:
    def __init__(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> None:
        self.topology = topology
        self.routes = M.routes_of(resources)

    def decide(self, request: Request) -> Verdict:
        reached = M.address(self.topology, request)
        if isinstance(reached, Verdict):
            return reached
        client_ns, key = reached.client_ns, reached.key
        workload, port = reached.workload, reached.port
        headers = _lines(request.headers)
        if request.source is None:  # no client proxy: no route applies
            return Verdict(Outcome.FORWARDED, None, backends={(key, None): 1.0}, headers=headers)
        routes = M.applicable(self.routes, workload, port, client_ns)
        if not routes:
            return Verdict(Outcome.FORWARDED, None, backends={(key, None): 1.0}, headers=headers)
        path, query = M.split_target(request.target)
        best: tuple[Rank, str, G.Rule] | None = None
        for route in routes:
            for i, rule in enumerate(route.rules):
                for m in rule.matches:
                    r = rank(m, request.method, path, query, headers)
                    # strictly better only: ties keep the earlier route, rule and match
                    if r is not None and (best is None or r > best[0]):
                        best = (r, f"{route.key}#{i}", rule)
        if best is None:
            return Verdict(Outcome.NO_ROUTE, 404)
        _, name, rule = best
        shares, invalid = M.shares(self.topology, rule)
        if not shares:
            return Verdict(Outcome.UNAVAILABLE, 500, route=name)
        timeout = rule.request_timeout or None
        return Verdict(
            Outcome.PARTIALLY_DENIED if invalid else Outcome.FORWARDED,
            None,
            route=name,
            backends=shares,
            timeout=timeout,
            headers=M.edited(headers, rule.header_modifier),
        )


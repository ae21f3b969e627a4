"""Whether one match condition holds for a normalised request."""

from __future__ import annotations

from collections.abc import Mapping

from meshspec.regex import full_match
from meshspec.semantics.headers import deny_candidates
from meshspec.semantics.paths import NormalizedTarget
from meshspec.spec import HeaderMatch, PathMatch, QueryParamMatch, RouteMatch


def prefix_matches(prefix: str, path: str) -> bool:
    """Segment-aware: `/api` matches `/api`, `/api/`, `/api/x`, never `/apix`."""
    p = prefix.rstrip("/")
    if not p:
        return True
    return path == p or path.startswith(p + "/")


def path_matches(m: PathMatch, path: str) -> bool:
    if m.exact is not None:
        return path == m.exact
    if m.prefix is not None:
        return prefix_matches(m.prefix, path)
    return full_match(m.regex or "", path)


def header_matches(m: HeaderMatch, headers: Mapping[str, str], *, deny: bool = False) -> bool:
    """`headers` holds combined values (see `headers.py`); `deny`: the condition of a DENY
    rule, which also holds when any comma-separated element of the value matches."""
    value = headers.get(m.name)
    if value is None:
        return False
    if m.present:
        return True
    if deny:
        return any(_value_matches(m, v) for v in deny_candidates(value))
    return _value_matches(m, value)


def _value_matches(m: HeaderMatch, value: str) -> bool:
    if m.exact is not None:
        return value == m.exact
    if m.prefix is not None:
        return value.startswith(m.prefix)
    return full_match(m.regex or "", value)


def query_matches(m: QueryParamMatch, target: NormalizedTarget) -> bool:
    value = target.query_value(m.name)
    if value is None:
        return False
    if m.present:
        return True
    if m.exact is not None:
        return value == m.exact
    return full_match(m.regex or "", value)


def route_match_holds(
    m: RouteMatch, method: str, target: NormalizedTarget, headers: Mapping[str, str]
) -> bool:
    if m.path is not None and not path_matches(m.path, target.path):
        return False
    if m.method is not None and m.method != method:
        return False
    if not all(header_matches(h, headers) for h in m.headers):
        return False
    return all(query_matches(q, target) for q in m.query_params)

"""Envoy's matchers as Consul configures them, for routes and for L7 intentions.

* Header lines: Envoy trims the whitespace around each field line's value, and a route or
  RBAC header condition is tested against each line of a repeated header on its own, holding
  when one line matches (observed on Envoy 1.40; Consul's service-intentions reference warns
  that `Exact`/`Prefix`/`Suffix` can be dodged through repeated headers). `Invert` negates.
* Paths: `PathExact` compares the whole path, `PathPrefix` is a plain string prefix
  (`/usrv` matches `/usrv-expand`), `PathRegex` is an RE2 full match (service-router reference;
  consul `agent/xds/routes.go` `makeRouteMatchForDiscoveryRoute`), all case-sensitive unless
  `CaseInsensitive`.
* Query parameters: `Exact`, `Regex` (full match) or `Present` on the first value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.consul._model_paths import Target
from adapters.kit.envoy import first_query_value, header_lines, parse_query

Lines = Mapping[str, tuple[str, ...]]
__all__ = ["Lines", "full_match", "header_holds", "header_lines", "http_holds", "joined"]


def joined(lines: Lines) -> dict[str, str]:
    """What the backend reads: the lines of each header joined with `,`."""
    return {name: ",".join(values) for name, values in lines.items()}


def full_match(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


def header_holds(cond: Mapping[str, Any], lines: Lines) -> bool:
    values = lines.get(str(cond.get("Name", "")).lower())
    if cond.get("Present"):
        held = values is not None
    elif values is None:
        held = False
    else:
        held = any(_value_holds(cond, v) for v in values)
    return not held if cond.get("Invert") else held


def _value_holds(cond: Mapping[str, Any], value: str) -> bool:
    fold = bool(cond.get("IgnoreCase"))
    v = value.lower() if fold else value

    def f(key: str) -> str:
        text = str(cond.get(key, ""))
        return text.lower() if fold else text

    if "Exact" in cond:
        return v == f("Exact")
    if "Prefix" in cond:
        return v.startswith(f("Prefix"))
    if "Suffix" in cond:
        return v.endswith(f("Suffix"))
    if "Contains" in cond:
        return f("Contains") in v
    if "Regex" in cond:
        return full_match(str(cond["Regex"]), value)
    return True


def path_holds(http: Mapping[str, Any], path: str) -> bool:
    fold = bool(http.get("CaseInsensitive"))
    p = path.lower() if fold else path
    if "PathExact" in http:
        want = str(http["PathExact"])
        return p == (want.lower() if fold else want)
    if "PathPrefix" in http:
        want = str(http["PathPrefix"])
        return p.startswith(want.lower() if fold else want)
    if "PathRegex" in http:
        flags = "(?i)" if fold else ""
        return full_match(flags + str(http["PathRegex"]), path)
    return True


def http_holds(http: Mapping[str, Any], method: str, target: Target, lines: Lines) -> bool:
    """A route's `Match.HTTP` or a permission's `HTTP`: every condition written holds."""
    if not path_holds(http, target.path):
        return False
    methods = http.get("Methods") or []
    if methods and method not in methods:
        return False
    if not all(header_holds(h, lines) for h in http.get("Header") or []):
        return False
    for q in http.get("QueryParam") or []:
        value = first_query_value(parse_query(target.query), str(q.get("Name", "")))
        if value is None:
            return False
        if "Exact" in q and value != str(q["Exact"]):
            return False
        if "Regex" in q and not full_match(str(q["Regex"]), value):
            return False
    return True

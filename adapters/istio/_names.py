"""Native names the Istio model reports, mapped back to the neutral names they came from.

The compiler names each VirtualService `http` rule `<route>.<match index>` (or
`<route>` for a route without matches) and lists, in `meshspec.io/rules`, the
neutral names of the rules an AuthorizationPolicy holds, in order. The model
names an authorization rule `ns/policy#index` (or `ns/policy` when the policy
has one rule). An ALLOW policy may end with the compiler's extra `{}` rule that
keeps `default: allow`; it maps to "" (no neutral rule: the default decided).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.istio._security import RULES_ANNOTATION

_MATCH_SUFFIX = re.compile(r"^(?P<route>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(\d+)$")


def neutral_names(resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for res in resources:
        kind = res.get("kind")
        if kind == "VirtualService":
            names.update(_route_names(res))
        elif kind == "AuthorizationPolicy":
            names.update(_rule_names(res))
    return names


def _route_names(res: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for rule in (res.get("spec") or {}).get("http") or ():
        native = rule.get("name")
        if not native:
            continue
        m = _MATCH_SUFFIX.match(str(native))
        out[str(native)] = m.group("route") if m else str(native)
    return out


def _rule_names(res: Mapping[str, Any]) -> dict[str, str]:
    meta = res.get("metadata") or {}
    annotation = str((meta.get("annotations") or {}).get(RULES_ANNOTATION) or "")
    neutral = [n for n in annotation.split(",") if n]
    rules = (res.get("spec") or {}).get("rules") or []
    extra = len(rules) - len(neutral)
    if not neutral or extra not in (0, 1) or (extra == 1 and rules[-1]):
        return {}  # not as the compiler writes it (hand-written, or rules left out): keep native
    policy = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
    labels = [*neutral, ""] if extra else neutral
    if len(rules) == 1:
        return {policy: labels[0]}
    return {f"{policy}#{i}": label for i, label in enumerate(labels)}

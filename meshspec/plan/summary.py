"""Kept / changed / lost per feature area: the table at the top of a plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meshspec.diagnostics import Diagnostic, Severity
from meshspec.diff import Difference
from meshspec.spec import Spec

AREAS = (
    "routing",
    "traffic-split",
    "retries-timeouts",
    "mtls",
    "authorization",
    "resilience",
    "headers",
)
_FIELD_AREA = {
    "route": "routing",
    "backends": "traffic-split",
    "timeout": "retries-timeouts",
    "retries": "retries-timeouts",
    "mtls": "mtls",
    "transport": "mtls",
    "authz": "authorization",
    "authz_rule": "authorization",
    "breakers": "resilience",
    "headers": "headers",
}
_WORDS = (
    ("retr", "retries-timeouts"),
    ("timeout", "retries-timeouts"),
    ("outlier", "resilience"),
    ("connection", "resilience"),
    ("header", "headers"),
    ("weight", "traffic-split"),
    ("mtls", "mtls"),
    ("peerauthentication", "mtls"),
    ("authorization", "authorization"),
)


@dataclass(frozen=True)
class AreaSummary:
    area: str
    items: int
    changed: int
    lost: int

    @property
    def status(self) -> str:
        if self.lost:
            return "lost"
        return "changed" if self.changed else "kept"


def summarize(
    spec: Spec, differences: Sequence[Difference], diagnostics: Sequence[Diagnostic]
) -> list[AreaSummary]:
    items = _items(spec)
    changed = dict.fromkeys(AREAS, 0)
    for d in differences:
        for area in difference_areas(d):
            changed[area] += 1
    lost = dict.fromkeys(AREAS, 0)
    for diag in diagnostics:
        if diag.severity is not Severity.INFO:
            found = diagnostic_area(diag)
            if found is not None:
                lost[found] += 1
    return [AreaSummary(a, items[a], changed[a], lost[a]) for a in AREAS]


def difference_areas(d: Difference) -> set[str]:
    areas = {_FIELD_AREA[f] for f in d.fields if f in _FIELD_AREA}
    if not areas and ({"outcome", "status"} & set(d.fields)):
        areas.add("routing")
    return areas


def diagnostic_area(d: Diagnostic) -> str | None:
    if d.area == "authz":
        return "authorization"
    if d.area == "mtls":
        return "mtls"
    text = f"{d.path} {d.message}".lower()
    for word, area in _WORDS:
        if word in text:
            return area
    if "route" in text or "match" in text or "virtualservice" in text or "fault" in text:
        return "routing"
    return None


def _items(spec: Spec) -> dict[str, int]:
    out = dict.fromkeys(AREAS, 0)
    out["mtls"] = 1
    for doc in spec:
        s = doc.spec
        out["mtls"] += 1 if s.mtls is not None else 0
        out["authorization"] += len(s.authorization.rules) if s.authorization else 0
        out["resilience"] += (1 if s.resilience else 0) + sum(1 for v in s.versions if v.resilience)
        for r in s.routes:
            out["routing"] += 1
            out["traffic-split"] += 1 if len([b for b in r.backends if b.weight]) > 1 else 0
            out["retries-timeouts"] += 1 if (r.timeout is not None or r.retries) else 0
            out["headers"] += 1 if r.request_headers else 0
    return out

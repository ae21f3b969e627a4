"""ServiceProfiles (linkerd.io/v1alpha2) -> neutral routes.

A ServiceProfile for `<service>.<namespace>.svc.<cluster domain>` wins over HTTPRoutes
and over retry and timeout annotations (linkerd.io `reference/retries.md`,
`reference/timeouts.md`); its routes are tried in order, the first whose condition
holds is used, and a request none matches goes to the Service with the profile's
defaults (linkerd2-proxy `linkerd/service-profiles/src/http.rs`; linkerd.io
`reference/service-profiles.md`: `timeout` default 10s, `isRetryable` under the
`retryBudget`, default ratio 0.2, 10 retries per second minimum, 10s window).
Conditions `pathRegex`, `method`, `all` and `any` are written as matches; `not` and
response classes cannot be, and are reported. Neutral precedence ranks longer regexes
first, so where the profile's order decides otherwise the request is named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters import _gamma_import as GI
from adapters.linkerd import codes as C
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic

TARGET = "linkerd"
PROFILE_TIMEOUT = "10s"
_NAME = re.compile(r"[^a-z0-9-]+")


def _matches(cond: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The condition as ORed neutral matches; None when it cannot be written."""
    if "not" in cond:
        return None
    base: dict[str, Any] = {}
    if "pathRegex" in cond:
        base["path"] = {"regex": str(cond["pathRegex"])}
    if "method" in cond:
        base["method"] = str(cond["method"]).upper()
    out = [base]
    for sub in cond.get("all") or []:
        inner = _matches(sub)
        if inner is None or len(inner) != 1:
            return None
        merged = []
        for m in out:
            if set(m) & set(inner[0]):
                return None
            merged.append({**m, **inner[0]})
        out = merged
    if "any" in cond:
        alts: list[dict[str, Any]] = []
        for sub in cond.get("any") or []:
            inner = _matches(sub)
            if inner is None:
                return None
            for m in out:
                for i in inner:
                    if set(m) & set(i):
                        return None
                    alts.append({**m, **i})
        out = alts
    return out


def import_profile(doc: NativeDocument, drafts: GI.Drafts, diagnostics: list[Diagnostic]) -> None:
    name = doc.name
    parts = name.split(".")
    if len(parts) < 3 or parts[2] != "svc":
        diagnostics.append(
            C.KIND_SKIPPED(
                f"ServiceProfile {name}: not a Service's FQDN", location=doc.origin.locate(())
            )
        )
        return
    draft = drafts.get_or_add(parts[1], parts[0])
    spec = doc.data.get("spec") or {}
    where = doc.origin.locate(("spec",))
    if draft.routes:
        diagnostics.append(
            C.PROFILE_WINS(
                f"{draft.key} has a ServiceProfile: Linkerd uses its routes and ignores the "
                "HTTPRoutes and their retries and timeouts",
                location=where,
                target=TARGET,
            )
        )
    if spec.get("retryBudget") is not None:
        diagnostics.append(
            C.RETRY_BUDGET(
                "retryBudget: the share of extra requests retries may add is not in the spec; "
                "retryable routes retry once",
                location=doc.origin.locate(("spec", "retryBudget")),
                target=TARGET,
            )
        )
    for key in ("dstOverrides", "opaquePorts"):
        if spec.get(key):
            diagnostics.append(
                C.FIELD_DROPPED(
                    f"{key} dropped", location=doc.origin.locate(("spec", key)), target=TARGET
                )
            )
    routes: list[dict[str, Any]] = []
    regexes: list[tuple[int, str, str]] = []
    for i, route in enumerate(spec.get("routes") or []):
        if not isinstance(route, Mapping):
            continue
        loc = doc.origin.locate(("spec", "routes", i))
        matches = _matches(route.get("condition") or {})
        if matches is None:
            diagnostics.append(
                C.FIELD_DROPPED(
                    f"route {route.get('name')}: condition cannot be written as matches; the "
                    "route is left out (its requests take the later routes)",
                    location=loc,
                    target=TARGET,
                )
            )
            continue
        if route.get("responseClasses"):
            diagnostics.append(
                C.FIELD_DROPPED("responseClasses dropped", location=loc, target=TARGET)
            )
        rname = (
            _NAME.sub("-", str(route.get("name", f"route-{i}")).lower()).strip("-")[:60]
            or f"route-{i}"
        )
        taken = {r["name"] for r in routes}
        if rname in taken:
            rname = f"{rname[:55]}-{i}"
        out: dict[str, Any] = {
            "name": rname,
            "timeout": str(route.get("timeout") or PROFILE_TIMEOUT),
        }
        if matches != [{}]:
            out["matches"] = matches
        if route.get("isRetryable"):
            out["retries"] = {"attempts": 1, "retryOn": ["5xx"]}
        routes.append(out)
        for m in matches:
            regex = (m.get("path") or {}).get("regex")
            if regex is not None:
                regexes.append((i, str(regex), rname))
    # first match in the profile; the spec ranks longer regexes first
    for (_i, a, an), (j, b, bn) in ((x, y) for x in regexes for y in regexes if x[0] < y[0]):
        if len(b) > len(a):
            diagnostics.append(
                C.PROFILE_ORDER(
                    f"routes '{an}' and '{bn}': a request matching both takes '{an}' in Linkerd "
                    f"(first in the profile) and '{bn}' in the neutral spec (longer regex)",
                    location=doc.origin.locate(("spec", "routes", j)),
                    target=TARGET,
                )
            )
    routes.append({"name": _free("default", routes), "timeout": PROFILE_TIMEOUT})
    draft.routes = routes


def _free(name: str, routes: list[dict[str, Any]]) -> str:
    taken = {r["name"] for r in routes}
    n = 2
    out = name
    while out in taken:
        out = f"{name}-{n}"
        n += 1
    return out

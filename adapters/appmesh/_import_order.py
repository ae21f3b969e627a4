"""Keeping App Mesh's first match under the neutral spec's most specific match.

The routes arrive in App Mesh's order. For an earlier route `i` and a later
route `j` that the neutral precedence ranks higher (a longer prefix, an exact
path, a method, more headers; `docs/spec.md`), a request both match goes to `i`
in App Mesh and to `j` in the neutral spec. Then:

* `j`'s match lies inside `i`'s: App Mesh never picks `j` for it; the match is
  dropped from `j` (the route goes when it has none left), MS4102 says so;
* they overlap partly: `i` gets the intersection as an extra match, which the
  neutral precedence ranks at least as high as `j`'s and, on a tie, the earlier
  route wins: App Mesh's choice is kept;
* the overlap cannot be computed (a regular expression): MS4102 names a request
  that behaves differently.

Each MS4102 names a request whose route the neutral spec would otherwise change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from adapters.appmesh import codes as C
from adapters.appmesh.resources import TARGET, Route

if TYPE_CHECKING:
    from adapters.appmesh.importer import Context, ServiceDraft

Match = dict[str, Any]


class Unknown(Exception):
    """The intersection of two matches cannot be written (regular expressions)."""


def rank(match: Match) -> tuple[int, ...]:
    """The neutral precedence of a match, smaller wins (docs/spec.md, "Route precedence")."""
    path = match.get("path") or {"prefix": "/"}
    if "exact" in path:
        kind, length = 3, len(path["exact"])
    elif "prefix" in path:
        kind, length = 2, len(path["prefix"].rstrip("/") or "/")
    else:
        kind, length = 1, len(path["regex"])
    return (
        -kind,
        -length,
        -(1 if match.get("method") else 0),
        -len(match.get("headers") or ()),
        -len(match.get("queryParams") or ()),
    )


def _segment_within(path: str, prefix: str) -> bool:
    base = prefix.rstrip("/")
    return not base or path == base or path.startswith(base + "/")


def _paths(a: dict[str, str] | None, b: dict[str, str] | None) -> dict[str, str] | None:
    """The intersection of two path conditions; None when empty."""
    a, b = a or {"prefix": "/"}, b or {"prefix": "/"}
    if "regex" in a or "regex" in b:
        if a == b:
            return a
        raise Unknown
    if "exact" in a and "exact" in b:
        return a if a == b else None
    if "exact" in a or "exact" in b:
        exact, prefix = (a, b) if "exact" in a else (b, a)
        return exact if _segment_within(exact["exact"], prefix["prefix"]) else None
    longer, shorter = sorted((a, b), key=lambda p: -len(p["prefix"].rstrip("/")))
    return (
        longer if _segment_within(longer["prefix"].rstrip("/") or "/", shorter["prefix"]) else None
    )


def intersect(a: Match, b: Match) -> Match | None:
    """The requests both match, as one match; None when there are none."""
    path = _paths(a.get("path"), b.get("path"))
    if path is None:
        return None
    out: Match = {}
    if path != {"prefix": "/"}:
        out["path"] = path
    methods = {m for m in (a.get("method"), b.get("method")) if m}
    if len(methods) > 1:
        return None
    if methods:
        out["method"] = methods.pop()
    for field in ("headers", "queryParams"):
        merged: list[dict[str, Any]] = []
        for cond in [*(a.get(field) or ()), *(b.get(field) or ())]:
            if cond in merged:
                continue
            for other in merged:
                if (
                    other["name"].lower() == cond["name"].lower()
                    and "exact" in other
                    and ("exact" in cond and other["exact"] != cond["exact"])
                ):
                    return None
            merged.append(cond)
        if merged:
            out[field] = merged
    return out


def _normal(match: Match) -> Match:
    out = {k: v for k, v in match.items() if v}
    if out.get("path") == {"prefix": "/"}:
        del out["path"]
    return out


def sample(match: Match) -> str:
    """A request the match takes, as text."""
    path = match.get("path") or {"prefix": "/"}
    target = path.get("exact") or path.get("prefix") or path.get("regex", "/")
    parts = [match.get("method") or "GET", target]
    for h in match.get("headers") or ():
        value = (
            h.get("exact")
            or h.get("prefix")
            or ("<matching " + h["regex"] + ">" if "regex" in h else "x")
        )
        parts.append(f"-H {h['name']}={value}")
    query = [f"{q['name']}={q.get('exact', 'x')}" for q in match.get("queryParams") or ()]
    if query:
        parts[1] += "?" + "&".join(query)
    return " ".join(parts)


def keep_first_match(
    ctx: Context, draft: ServiceDraft, routes: list[dict[str, Any]], native: Sequence[Route]
) -> list[dict[str, Any]]:
    """`routes` in App Mesh's order, rewritten so the neutral precedence picks the same."""
    where = {
        r["name"]: n.where
        for r, n in zip(routes, [n for n in native if n.protocol != "tcpRoute"], strict=False)
    }
    matches: list[list[Match]] = [[_normal(m) for m in r.get("matches") or [{}]] for r in routes]
    for j in range(len(routes)):
        kept: list[Match] = []
        for mj in matches[j]:
            shadowed = False
            for i in range(j):
                for mi in list(matches[i]):
                    try:
                        both = intersect(mi, mj)
                    except Unknown:
                        if rank(mj) < rank(mi):
                            _changed(ctx, routes[i], routes[j], mj, where, "")
                        continue
                    if both is None:
                        continue
                    if _normal(both) == mj:
                        # i takes every request j does, in App Mesh (first) and, where j
                        # is not more specific, in the neutral spec too
                        _changed(ctx, routes[i], routes[j], mj, where, "dropped")
                        shadowed = True
                        break
                    if rank(mj) >= rank(mi):
                        continue  # the neutral spec prefers i (or an earlier) as App Mesh does
                    if both not in matches[i]:
                        matches[i].append(both)
                        _changed(ctx, routes[i], routes[j], both, where, "kept")
                if shadowed:
                    break
            if not shadowed:
                kept.append(mj)
        matches[j] = kept
    out = []
    for route, found in zip(routes, matches, strict=True):
        if not found:
            continue
        body = dict(route)
        body.pop("matches", None)
        written = [m for m in found if m]
        if written and len(written) == len(found):
            body = {
                "name": body["name"],
                "matches": written,
                **{k: v for k, v in body.items() if k != "name"},
            }
        out.append(body)
    return out


def _changed(
    ctx: Context,
    first: dict[str, Any],
    later: dict[str, Any],
    match: Match,
    where: dict[str, Any],
    how: str,
) -> None:
    request = sample(match)
    if how == "dropped":
        message = (
            f"route {first['name']} takes every request route {later['name']} matches "
            f"(e.g. '{request}') and App Mesh tries it first: that match of {later['name']} "
            "is never chosen and is dropped"
        )
    elif how == "kept":
        message = (
            f"App Mesh sends '{request}' to {first['name']} (matched first); the neutral spec "
            f"would prefer the more specific {later['name']}: {first['name']} gets that "
            "intersection as an extra match"
        )
    else:
        message = (
            f"App Mesh may send a request to {first['name']} that the neutral spec sends to "
            f"{later['name']} (e.g. '{request}'); regular expressions are not intersected"
        )
    ctx.diagnostics.append(
        C.ORDER_CHANGED(
            message,
            location=where.get(later["name"]),
            target=TARGET,
            hint="check the neutral routes: they now say in specificity what App Mesh said "
            "with priorities",
        )
    )

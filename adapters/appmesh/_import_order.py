"""Keeping App Mesh's first match under the neutral spec's most specific match, with the
adapter kit's reordering (`adapters.kit.first_match`).

Each App Mesh route becomes `Piece`s: its path (a string prefix as the segment prefix
plus the regex of what the string adds, so `/usrv` still takes `/usrv-expand` as
App Mesh's Envoy does), method, headers and query conditions. Neighbouring routes of
one compiled neutral route (`<route>.<n>`, the same targets and policies) are one
list, where an exact `/a` beside the prefix `/a/` is the segment prefix `/a` again.
`keep_order` then adds to an earlier route what a later, more specific one overlaps,
and reports with a concrete request what it cannot keep (MS3102). A later piece the
earlier routes take whole is never chosen, by App Mesh or by the neutral spec; it is
removed, and a route left without pieces goes (MS3102 names it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters.appmesh import codes as C
from adapters.appmesh.resources import TARGET, Route
from adapters.kit.first_match import Piece, intersect, keep_order, merge_segment_pairs
from meshspec.semantics import precedence_key
from meshspec.spec import RouteMatch

if TYPE_CHECKING:
    from adapters.appmesh.importer import Context


@dataclass
class Draft:
    """One neutral route being built: its body and the pieces of its matches."""

    body: dict[str, Any]
    group: str
    pieces: list[Piece]
    routes: list[Route] = field(default_factory=list)


def _rest(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("name", "matches")}


def neighbours(drafts: Sequence[Draft]) -> list[Draft]:
    """Neighbouring pieces of one compiled neutral route, as one draft."""
    out: list[Draft] = []
    for draft in drafts:
        last = out[-1] if out else None
        if (
            last is not None
            and draft.group
            and last.group == draft.group
            and _rest(last.body) == _rest(draft.body)
        ):
            last.pieces += draft.pieces
            last.routes += draft.routes
            continue
        out.append(Draft(dict(draft.body), draft.group, list(draft.pieces), list(draft.routes)))
    for draft in out:
        if draft.group:
            draft.body["name"] = draft.group
        draft.pieces = merge_segment_pairs(draft.pieces)
    return out


def keep_first_match(ctx: Context, drafts: list[Draft]) -> list[dict[str, Any]]:
    """The neutral routes, App Mesh's order kept where the neutral precedence differs."""
    result = keep_order([d.pieces for d in drafts])
    for conflict in result.conflicts:
        earlier, later = drafts[conflict.earlier], drafts[conflict.later]
        request = _shown(conflict.sample)
        why = (
            "App Mesh takes the earlier route (lower priority number), the neutral spec the "
            "more specific one"
            if conflict.decided
            else "no proof that the neutral order picks the same route"
        )
        ctx.diagnostics.append(
            C.ORDER_CHANGED(
                f"route {later.body['name']} overlaps the earlier {earlier.body['name']} "
                f"(e.g. '{request}'): {why}",
                location=later.routes[0].where if later.routes else None,
                target=TARGET,
                hint="give the more specific route the lower priority in App Mesh, or narrow "
                "the routes, and import again",
            )
        )
    seen: list[Piece] = []
    out = []
    for draft, pieces in zip(drafts, result.pieces, strict=True):
        kept = [p for p in pieces if not any(_covers(q, p) for q in seen)]
        dropped = [p for p in pieces if p not in kept]
        if dropped:
            _never(ctx, draft, dropped, whole=not kept)
        seen += pieces
        if not kept:
            continue
        body = {k: v for k, v in draft.body.items() if k != "matches"}
        matches = [p.to_match() for p in kept]
        if matches and {} not in matches:
            body = {"name": body["name"], "matches": matches, **_rest(body)}
        out.append(body)
    return out


def _rank(piece: Piece) -> tuple[int, ...]:
    return precedence_key(RouteMatch.model_validate(piece.to_match()), 0, 0)[:5]


def _covers(earlier: Piece, later: Piece) -> bool:
    """Every request of `later` is `earlier`'s, and the neutral order agrees (the earlier
    piece ranks as high or higher): `later` is never chosen, by either."""
    if earlier == later:
        return True
    both = intersect(earlier, later)
    return both == later and _rank(earlier) <= _rank(later)


def _never(ctx: Context, draft: Draft, pieces: list[Piece], whole: bool) -> None:
    shown = ", ".join(f"'{_shown(p.sample())}'" for p in pieces)
    what = "the route is left out" if whole else "those matches are left out"
    ctx.diagnostics.append(
        C.ORDER_CHANGED(
            f"route {draft.body['name']}: earlier routes take every request it matches "
            f"(e.g. {shown}) and App Mesh tries them first, so it is never chosen: {what}",
            location=draft.routes[0].where if draft.routes else None,
            target=TARGET,
            hint="remove the route in App Mesh, or give it a lower priority number",
        )
    )


def _shown(sample: dict[str, Any]) -> str:
    parts = [str(sample.get("method") or "GET"), str(sample.get("target") or "/")]
    headers = sample.get("headers") or {}
    parts += [f"-H {k}={v}" for k, v in dict(headers).items()]
    return " ".join(parts)

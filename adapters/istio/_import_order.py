"""Keeping Istio's first-match order under the neutral most-specific-wins order.

For every later piece P that the neutral order would rank before an earlier,
overlapping piece Q, the requests in both belong to Q's route in Istio. The
intersection P∧Q is added to Q's route; it ranks at least as high as P, and on a
tie the earlier route wins, so those requests stay where Istio sends them. When
the intersection would rank below P (a regex never beats a prefix) or cannot be
computed (two different user regexes), the conflict is reported with a concrete
request. At the fixpoint no request is routed differently (decisions.md §3).

The other direction happens too: a later piece without a path condition (the
default route after `prefix: /api`) counts as prefix `/` and outranks the regex
`/api[^/].*` that an earlier string prefix needs. Such a piece is written as the
path regex `.*` instead: it matches the same requests and ranks below every other
path, so the earlier rule keeps `/apix` as Istio does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from adapters.istio._import_matches import ANY_PATH, EMPTY, UNKNOWN, Piece, intersect
from meshspec.semantics import precedence_key
from meshspec.spec import RouteMatch

MAX_PIECES = 400


@dataclass
class Conflict:
    earlier: int
    later: int
    sample: dict[str, object]
    decided: bool


@dataclass
class OrderResult:
    pieces: list[list[Piece]]
    conflicts: list[Conflict] = field(default_factory=list)


def _rank(piece: Piece | None) -> tuple[int, ...]:
    if piece is None:
        return precedence_key(None, 0, 0)[:5]
    return precedence_key(RouteMatch.model_validate(piece.to_match()), 0, 0)[:5]


def _place(
    pieces: list[list[Piece]],
    i: int,
    p: Piece,
    conflicts: list[Conflict],
    seen: set[tuple[int, int, Piece, Piece]],
) -> bool:
    """Keep the earlier routes' claim on what piece `p` of route `i` overlaps; True
    when the pieces changed."""
    changed = False
    for j in range(i):
        for q in list(pieces[j]):
            if _rank(p) >= _rank(q):
                continue
            both = intersect(p, q)
            if both is EMPTY:
                continue
            if isinstance(both, Piece) and _rank(both) <= _rank(p):
                if both not in pieces[j]:
                    pieces[j].append(both)
                    changed = True
                continue
            if p.path is None and isinstance(both, Piece):
                # Rank the path-less later piece below every path instead.
                pieces[i][pieces[i].index(p)] = replace(p, path=ANY_PATH)
                return True
            key = (j, i, p, q)
            if key not in seen:
                seen.add(key)
                sample = both.sample() if isinstance(both, Piece) else p.sample()
                conflicts.append(Conflict(j, i, sample, both is not UNKNOWN))
    return changed


def keep_order(routes: list[list[Piece] | None]) -> OrderResult:
    """`routes[i]` is the pieces of Istio rule i (None: a rule without match)."""
    pieces: list[list[Piece]] = [list(r) if r is not None else [Piece()] for r in routes]
    conflicts: list[Conflict] = []
    seen_conflicts: set[tuple[int, int, Piece, Piece]] = set()
    changed = True
    while changed:
        changed = False
        for i in range(len(pieces)):
            for p in list(pieces[i]):
                if _place(pieces, i, p, conflicts, seen_conflicts):
                    changed = True
                if sum(len(x) for x in pieces) > MAX_PIECES:
                    conflicts.append(Conflict(0, i, {}, False))
                    return OrderResult(pieces, conflicts)
    return OrderResult(pieces, conflicts)

"""A mesh's first-match route list as the neutral most-specific-wins routes.

Istio's VirtualService, Consul's service-router, App Mesh's route priorities and
Linkerd's ServiceProfiles pick the first rule that matches; the neutral spec
picks the most specific match (`meshspec.semantics.precedence_key`). An importer
turns each rule's conditions into `Piece`s (path, method, headers, query) and
`keep_order` adds what is needed so that no request is routed differently, or
reports a conflict with a concrete request.

Paths: exact, the neutral segment prefix, regex, and a plain string prefix (what
most meshes call `prefix`). A string prefix translates exactly: `/api` becomes
the segment prefix `/api` plus the regex `/api[^/].*` (what the string prefix
adds: `/apix`), and a prefix ending in `/` becomes the regex `<prefix>.*`
(`string_prefix_pieces`). Each piece remembers which of these shapes it has, so
that intersections of pieces are computed exactly.

Keeping the order: for every later piece P that the neutral order would rank
before an earlier, overlapping piece Q, the requests in both belong to Q's route
in the mesh. The intersection P∧Q is added to Q's route; it ranks at least as
high as P, and on a tie the earlier route wins, so those requests stay where the
mesh sends them. When the intersection would rank below P (a regex never beats a
prefix) or cannot be computed (two different user regexes), the conflict is
reported with a concrete request. At the fixpoint no request is routed
differently (decisions.md §3).

The other direction happens too: a later piece without a path condition (the
default route after `prefix: /api`) counts as prefix `/` and outranks the regex
`/api[^/].*` that an earlier string prefix needs. Such a piece is written as the
path regex `.*` instead: it matches the same requests and ranks below every other
path, so the earlier rule keeps `/apix` as the mesh does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from meshspec.regex import full_match
from meshspec.semantics import precedence_key
from meshspec.spec import RouteMatch

# Path kinds: exact value, segment prefix, "cont" = q[^/].*, "str" = q.* (string prefix),
# "regex" = a regex written by the user (intersections with it are not computed).
PathCond = tuple[str, str] | None
StringCond = tuple[str, str, str]  # (name, kind exact|prefix|regex|present, value)

UNKNOWN = object()
EMPTY = object()
#: Every path, as a regex: ranks below any other path condition in the neutral order.
ANY_PATH: PathCond = ("regex", ".*")


@dataclass(frozen=True)
class Piece:
    path: PathCond = None
    method: str | None = None
    headers: tuple[StringCond, ...] = ()
    query: tuple[StringCond, ...] = ()

    def to_match(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.path is not None:
            kind, value = self.path
            if kind == "exact":
                out["path"] = {"exact": value}
            elif kind == "prefix":
                out["path"] = {"prefix": value}
            elif kind == "cont":
                out["path"] = {"regex": re.escape(value) + "[^/].*"}
            elif kind == "str":
                out["path"] = {"regex": re.escape(value) + ".*"}
            else:
                out["path"] = {"regex": value}
        if self.method is not None:
            out["method"] = self.method
        if self.headers:
            out["headers"] = [_string_dict(h) for h in self.headers]
        if self.query:
            out["queryParams"] = [_string_dict(q) for q in self.query]
        return out

    def sample(self) -> dict[str, Any]:
        """A concrete request this piece accepts (best effort for user regexes)."""
        path = "/"
        if self.path is not None:
            kind, value = self.path
            path = {
                "exact": value,
                "prefix": value if value != "/" else "/",
                "cont": value + "x",
                "str": value + "x",
            }.get(kind, _regex_sample(value))
        query = "&".join(f"{n}={_value_sample(k, v)}" for n, k, v in self.query)
        return {
            "method": self.method or "GET",
            "target": path + ("?" + query if query else ""),
            "headers": {n: _value_sample(k, v) for n, k, v in self.headers},
        }


def sample_of(match: dict[str, Any]) -> dict[str, Any]:
    """A concrete request a neutral match (as written in the imported spec) accepts."""
    path = match.get("path") or {}
    piece = Piece(
        path=("exact", path["exact"])
        if "exact" in path
        else ("prefix", path["prefix"])
        if "prefix" in path
        else ("regex", path["regex"])
        if "regex" in path
        else None,
        method=match.get("method"),
        headers=tuple(_cond(h) for h in match.get("headers") or []),
        query=tuple(_cond(q) for q in match.get("queryParams") or []),
    )
    return piece.sample()


def _cond(cond: dict[str, Any]) -> StringCond:
    for kind in ("exact", "prefix", "regex"):
        if kind in cond:
            return (str(cond["name"]), kind, str(cond[kind]))
    return (str(cond["name"]), "present", "")


def _string_dict(cond: StringCond) -> dict[str, Any]:
    name, kind, value = cond
    return {"name": name, kind: True if kind == "present" else value}


def _value_sample(kind: str, value: str) -> str:
    if kind == "exact":
        return value
    if kind == "prefix":
        return value + "x"
    if kind == "regex":
        return _regex_sample(value)
    return "1"


def _regex_sample(rx: str) -> str:
    literal = re.sub(r"[\\^$.*+?()\[\]{}|]", "", rx)
    for candidate in (literal, "/" + literal.lstrip("/"), "/x", "x", ""):
        if full_match(rx, candidate):
            return candidate
    return literal


def string_prefix_pieces(prefix: str) -> list[PathCond]:
    """A plain string prefix as exact neutral path conditions (ORed)."""
    if prefix in ("", "/"):
        return [None]
    if prefix.endswith("/"):
        return [("str", prefix)]
    return [("prefix", prefix), ("cont", prefix)]


def _in_segment(p: str, value: str) -> bool:
    return p == "/" or value == p or value.startswith(p + "/")


def _path_contains(cond: PathCond, value: str) -> bool:
    if cond is None:
        return True
    kind, v = cond
    if kind == "exact":
        return value == v
    if kind == "prefix":
        return _in_segment(v, value)
    if kind == "cont":
        return value.startswith(v) and len(value) > len(v) and value[len(v)] != "/"
    if kind == "str":
        return value.startswith(v)
    return full_match(v, value)


def intersect_path(a: PathCond, b: PathCond) -> PathCond | object:
    if a is None or a == ANY_PATH:
        return b
    if b is None or b == ANY_PATH or a == b:
        return a
    for x, y in ((a, b), (b, a)):
        if x[0] == "exact":
            return x if _path_contains(y, x[1]) else EMPTY
    if "regex" in (a[0], b[0]):
        return UNKNOWN
    # Both are sets of "every path starting with a literal, with a condition on the
    # next character": the narrower one is the intersection when its literal lies
    # inside the other set, otherwise they are disjoint.
    for x, y in ((a, b), (b, a)):
        if _contains_set(y, x):
            return x
    return EMPTY


def _contains_set(outer: tuple[str, str], inner: tuple[str, str]) -> bool:
    """Whether every path of `inner` (prefix/cont/str) belongs to `outer`."""
    ok, iv = inner
    if ok == "prefix":
        # inner = {iv} + {iv/...}: outer must hold iv and iv/x.
        return _path_contains(outer, iv) and _path_contains(outer, iv + "/x")
    if ok == "cont":
        return _literal_inside(outer, iv)
    return _literal_inside(outer, iv)


def _literal_inside(outer: tuple[str, str], lit: str) -> bool:
    """Whether every path that starts with `lit` (and goes on) belongs to `outer`."""
    kind, v = outer
    if kind == "str":
        return lit.startswith(v)
    if kind == "prefix":
        return v == "/" or lit.startswith(v + "/")
    if kind == "cont":
        return lit.startswith(v) and len(lit) > len(v) and lit[len(v)] != "/"
    return False


def intersect_strings(
    a: tuple[StringCond, ...], b: tuple[StringCond, ...]
) -> tuple[StringCond, ...] | object:
    out = list(a)
    for cond in b:
        same = [c for c in out if c[0] == cond[0]]
        if not same:
            out.append(cond)
            continue
        merged = _merge_string(same[0], cond)
        if merged is EMPTY or merged is UNKNOWN:
            return merged
        assert isinstance(merged, tuple)
        out[out.index(same[0])] = merged
    return tuple(out)


def _merge_string(a: StringCond, b: StringCond) -> StringCond | object:
    if a == b:
        return a
    for x, y in ((a, b), (b, a)):
        if y[1] == "present":
            return x
        if x[1] == "exact":
            if y[1] == "exact":
                return EMPTY
            if y[1] == "prefix":
                return x if x[2].startswith(y[2]) else EMPTY
            return x if full_match(y[2], x[2]) else EMPTY
    if a[1] == b[1] == "prefix":
        if a[2].startswith(b[2]):
            return a
        if b[2].startswith(a[2]):
            return b
        return EMPTY
    return UNKNOWN


def intersect(a: Piece, b: Piece) -> Piece | object:
    path = intersect_path(a.path, b.path)
    if path is EMPTY or path is UNKNOWN:
        return path
    if a.method is not None and b.method is not None and a.method != b.method:
        return EMPTY
    headers = intersect_strings(a.headers, b.headers)
    if headers is EMPTY or headers is UNKNOWN:
        return headers
    query = intersect_strings(a.query, b.query)
    if query is EMPTY or query is UNKNOWN:
        return query
    assert isinstance(headers, tuple) and isinstance(query, tuple)
    return Piece(path, a.method or b.method, headers, query)  # type: ignore[arg-type]


def merge_segment_pairs(pieces: list[Piece]) -> list[Piece]:
    """`exact: /a` next to `prefix: /a/` (same other conditions) is the neutral segment
    prefix `/a` exactly: the pair a segment-aware prefix compiles to."""
    out = list(pieces)
    for exact in pieces:
        if exact.path is None or exact.path[0] != "exact":
            continue
        value = exact.path[1]
        partner = replace(exact, path=("str", value + "/"))
        if partner in out and exact in out:
            index = min(out.index(exact), out.index(partner))
            out.remove(exact)
            out.remove(partner)
            out.insert(index, replace(exact, path=("prefix", value)))
    return out


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

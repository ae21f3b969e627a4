"""The first-match -> most-specific reordering: pieces, intersections, keep_order.

Intersections are checked against the spec's own path matching: a path is in
`intersect(a, b)` exactly when it is in both (over a small universe of paths
that crosses every segment and string boundary).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.kit.first_match import (
    ANY_PATH,
    EMPTY,
    UNKNOWN,
    PathCond,
    Piece,
    intersect,
    keep_order,
    merge_segment_pairs,
    sample_of,
    string_prefix_pieces,
)
from meshspec.semantics.matching import route_match_holds
from meshspec.semantics.paths import NormalizedTarget
from meshspec.spec import RouteMatch

PATHS = ["/", "/a", "/a/", "/ab", "/a/b", "/abc", "/ab/c", "/b", "/a/bc", "/a//b"]
LITERALS = ["/a", "/ab", "/a/b", "/b"]


def holds(piece: Piece, path: str, method: str = "GET") -> bool:
    match = RouteMatch.model_validate(piece.to_match())
    return route_match_holds(match, method, NormalizedTarget(path=path, query=()), {})


def takes(piece: Piece, request: dict[str, Any]) -> bool:
    """Whether the neutral match of `piece` takes a sample request."""
    path, _, raw = str(request["target"]).partition("?")
    query = tuple(tuple(kv.split("=", 1)) for kv in raw.split("&") if kv)
    target = NormalizedTarget(path=path, query=query)  # type: ignore[arg-type]
    match = RouteMatch.model_validate(piece.to_match())
    return route_match_holds(match, str(request["method"]), target, request["headers"])


def in_string_prefix(prefix: str, path: str) -> bool:
    return path.startswith(prefix)


conds = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(["exact", "prefix", "cont", "str"]), st.sampled_from(LITERALS)),
)


@given(conds, conds)
def test_an_intersection_holds_exactly_the_paths_in_both(a: PathCond, b: PathCond) -> None:
    both = intersect(Piece(path=a), Piece(path=b))
    assert both is not UNKNOWN  # no user regex: always computed
    for path in PATHS:
        expected = holds(Piece(path=a), path) and holds(Piece(path=b), path)
        got = isinstance(both, Piece) and holds(both, path)
        assert got == expected, (a, b, path, both)
    if both is EMPTY:
        assert not any(holds(Piece(path=a), p) and holds(Piece(path=b), p) for p in PATHS)


@given(st.sampled_from([*LITERALS, "/a/", "/", ""]))
def test_a_string_prefix_becomes_pieces_that_hold_the_same_paths(prefix: str) -> None:
    pieces = [Piece(path=c) for c in string_prefix_pieces(prefix)]
    for path in PATHS:
        assert any(holds(p, path) for p in pieces) == in_string_prefix(prefix, path), path


def test_the_sample_of_a_piece_is_a_request_it_takes() -> None:
    piece = Piece(("cont", "/api"), "POST", (("x-env", "prefix", "can"),), (("v", "exact", "2"),))
    sample = piece.sample()
    assert sample == {"method": "POST", "target": "/apix?v=2", "headers": {"x-env": "canx"}}
    assert takes(piece, sample)
    assert not takes(piece, {**sample, "target": "/api/x?v=2"})
    assert not takes(piece, {**sample, "headers": {}})
    assert sample_of({"path": {"prefix": "/api"}, "method": "PUT"})["target"] == "/api"
    regex = sample_of({"path": {"regex": "/v1/.*"}})["target"]  # best effort: literals only
    assert holds(Piece(("regex", "/v1/.*")), regex)
    assert takes(
        Piece(("prefix", "/api"), "PUT"), sample_of({"path": {"prefix": "/api"}, "method": "PUT"})
    )


def test_methods_and_headers_narrow_an_intersection() -> None:
    a = Piece(("prefix", "/a"), "GET", (("x", "prefix", "ab"),))
    b = Piece(None, None, (("x", "exact", "abc"),))
    assert intersect(a, b) == Piece(("prefix", "/a"), "GET", (("x", "exact", "abc"),))
    assert intersect(a, Piece(method="POST")) is EMPTY
    assert intersect(a, Piece(headers=(("x", "exact", "zz"),))) is EMPTY
    assert intersect(Piece(("regex", "/a.*")), Piece(("regex", "/.*b"))) is UNKNOWN


def test_an_exact_pair_and_string_prefix_merge_into_a_segment_prefix() -> None:
    pieces = [Piece(("exact", "/a")), Piece(("str", "/a/"))]
    assert merge_segment_pairs(pieces) == [Piece(("prefix", "/a"))]


def test_a_later_more_specific_piece_leaves_the_overlap_with_the_earlier_rule() -> None:
    # rule 0: string prefix /a ; rule 1: exact /a/b (more specific, so ranked first)
    result = keep_order(
        [[Piece(("prefix", "/a")), Piece(("cont", "/a"))], [Piece(("exact", "/a/b"))]]
    )
    assert result.conflicts == []
    assert Piece(("exact", "/a/b")) in result.pieces[0]


def test_a_later_catch_all_ranks_below_every_path() -> None:
    result = keep_order([[Piece(("prefix", "/a")), Piece(("cont", "/a"))], None])
    assert result.conflicts == []
    assert result.pieces[1] == [Piece(path=ANY_PATH)]


def test_an_overlap_no_neutral_order_can_keep_is_a_conflict_with_a_request() -> None:
    # rule 0: a regex; rule 1: a segment prefix, which outranks every regex
    result = keep_order([[Piece(("regex", "/a.*"))], [Piece(("prefix", "/a"))]])
    assert len(result.conflicts) == 1
    conflict = result.conflicts[0]
    assert (conflict.earlier, conflict.later, conflict.decided) == (0, 1, False)
    assert conflict.sample["target"] == "/a"

"""Route precedence truth tables, including semantics.md §7 cases A-E (the GAMMA column)."""

from __future__ import annotations

from typing import Any

import pytest

from meshspec.semantics import Outcome, Request, decide
from tests.semantics._specs import build, route, service, versions

V = versions("v1", "v2", "a", "b", "p", "e", "h", "m", "x")


def _chosen(
    routes: list[dict[str, Any]],
    target: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> str:
    spec = build(service("client"), service("svc", versions=V, routes=routes))
    d = decide(spec, Request("svc", target, method, headers or {}, source="client"))
    if d.outcome is Outcome.NO_ROUTE:
        return "404"
    (backend,) = d.backends
    assert backend.version is not None
    return backend.version


def p(kind: str, value: str) -> dict[str, Any]:
    return {"path": {kind: value}}


WORKED_EXAMPLES = [
    # case, routes in authoring order, request, neutral answer (GAMMA column)
    (
        "A",
        [route("r1", "v1", p("prefix", "/")), route("r2", "v2", p("prefix", "/api"))],
        ("/api/x", "GET", {}),
        "v2",
    ),
    (
        "B",
        [route("r1", "a", p("prefix", "/usrv")), route("r2", "b", p("prefix", "/usrv-expand"))],
        ("/usrv-expand/1", "GET", {}),
        "b",
    ),
    (
        "C",
        [route("r1", "p", p("prefix", "/foo")), route("r2", "e", p("exact", "/foo"))],
        ("/foo", "GET", {}),
        "e",
    ),
    (
        "D",
        [
            route("r1", "h", {"headers": [{"name": "x-a", "present": True}]}),
            route("r2", "m", {"method": "GET"}),
        ],
        ("/", "GET", {"x-a": "1"}),
        "m",
    ),
    ("E", [route("r1", "v2", p("prefix", "/api"))], ("/other", "GET", {}), "404"),
]


@pytest.mark.parametrize(
    ("case", "routes", "request_", "expected"), WORKED_EXAMPLES, ids=[c[0] for c in WORKED_EXAMPLES]
)
def test_worked_examples(
    case: str,
    routes: list[dict[str, Any]],
    request_: tuple[str, str, dict[str, str]],
    expected: str,
) -> None:
    target, method, headers = request_
    assert _chosen(routes, target, method, headers) == expected


RANKING = [
    # (winner, loser, request) with the loser written FIRST so list order would pick it
    (
        "exact beats prefix",
        route("w", "v1", p("exact", "/a/b")),
        route("l", "v2", p("prefix", "/a")),
        "/a/b",
    ),
    (
        "exact beats regex",
        route("w", "v1", p("exact", "/a/b")),
        route("l", "v2", p("regex", "/a/.*")),
        "/a/b",
    ),
    (
        "prefix beats regex",
        route("w", "v1", p("prefix", "/a")),
        route("l", "v2", p("regex", "/a/.+")),
        "/a/b",
    ),
    (
        "longer prefix",
        route("w", "v1", p("prefix", "/a/b")),
        route("l", "v2", p("prefix", "/a")),
        "/a/b/c",
    ),
    (
        "longer regex",
        route("w", "v1", p("regex", "/a/b.*")),
        route("l", "v2", p("regex", "/a.*")),
        "/a/bc",
    ),
    (
        "method beats headers",
        route("w", "v1", {"method": "GET"}),
        route("l", "v2", {"headers": [{"name": "x", "exact": "1"}]}),
        "/",
    ),
    (
        "more headers",
        route("w", "v1", {"headers": [{"name": "x", "exact": "1"}, {"name": "y", "exact": "2"}]}),
        route("l", "v2", {"headers": [{"name": "x", "exact": "1"}]}),
        "/",
    ),
    (
        "headers beat query",
        route("w", "v1", {"headers": [{"name": "x", "exact": "1"}]}),
        route("l", "v2", {"queryParams": [{"name": "q", "exact": "1"}]}),
        "/?q=1",
    ),
    (
        "more query",
        route(
            "w",
            "v1",
            {"queryParams": [{"name": "q", "exact": "1"}, {"name": "r", "present": True}]},
        ),
        route("l", "v2", {"queryParams": [{"name": "q", "exact": "1"}]}),
        "/?q=1&r",
    ),
    ("any match beats no path", route("w", "v1", p("prefix", "/a")), route("l", "v2"), "/a"),
]


@pytest.mark.parametrize(
    ("name", "winner", "loser", "target"), RANKING, ids=[r[0] for r in RANKING]
)
def test_more_specific_wins_whatever_the_order(
    name: str, winner: dict[str, Any], loser: dict[str, Any], target: str
) -> None:
    headers = {"x": "1", "y": "2"}
    assert _chosen([loser, winner], target, headers=headers) == "v1"
    assert _chosen([winner, loser], target, headers=headers) == "v1"


def test_ties_go_to_the_earlier_route() -> None:
    first, second = route("one", "v1", p("prefix", "/a")), route("two", "v2", p("prefix", "/a"))
    assert _chosen([first, second], "/a") == "v1"
    assert _chosen([second, first], "/a") == "v2"


PREFIX_SEGMENTS = [
    ("/api", "/api", True),
    ("/api", "/api/", True),
    ("/api", "/api/x", True),
    ("/api", "/apix", False),
    ("/api", "/ap", False),
    ("/api/", "/api", True),
    ("/api/", "/api/x", True),
    ("/api/", "/apix", False),
    ("/", "/anything", True),
    ("/a/b", "/a/bc", False),
    ("/a/b", "/a/b/c", True),
]


@pytest.mark.parametrize(("prefix", "path", "matches"), PREFIX_SEGMENTS)
def test_prefixes_match_whole_segments(prefix: str, path: str, matches: bool) -> None:
    got = _chosen([route("r", "v1", p("prefix", prefix))], path)
    assert got == ("v1" if matches else "404")


def test_service_without_routes_sends_everything_to_all_endpoints() -> None:
    spec = build(service("client"), service("svc", versions=V))
    d = decide(spec, Request("svc", "/whatever", source="client"))
    assert d.outcome is Outcome.FORWARDED
    assert [(b.service, b.version, b.weight) for b in d.backends] == [("default/svc", None, 1)]
    assert d.route is None


def test_defaults_fifteen_second_timeout_and_no_retries() -> None:
    spec = build(service("client"), service("svc", versions=V, routes=[route("r", "v1")]))
    d = decide(spec, Request("svc", "/", source="client"))
    assert d.timeout == 15.0
    assert d.retries.attempts == 0


def test_zero_timeout_disables_it() -> None:
    r = {**route("r", "v1"), "timeout": "0s"}
    spec = build(service("client"), service("svc", versions=V, routes=[r]))
    assert decide(spec, Request("svc", "/", source="client")).timeout is None

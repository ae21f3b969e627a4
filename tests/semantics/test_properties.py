"""Properties of the oracle that must hold for every spec and request."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meshspec.semantics import NormalizedTarget, Outcome, Request, decide, normalize_target
from tests.semantics._specs import build, service

SEGMENT = st.sampled_from(["a", "b", "api", "v1", ".", "..", "", "%2e", "x%41", "%7e"])
RAW_PATH = st.lists(SEGMENT, max_size=6).map(lambda parts: "/" + "/".join(parts))
NOISY_TARGET = st.text(
    alphabet=st.sampled_from(list("/ab.%2eF5c\\?#&=0")), min_size=1, max_size=20
).map(lambda t: "/" + t)

PATH_MATCH = st.one_of(
    SEGMENT.filter(lambda s: s not in (".", "..", "") and "%" not in s).map(
        lambda s: {"prefix": "/" + s}
    ),
    st.sampled_from([{"exact": "/a"}, {"exact": "/api/v1"}, {"prefix": "/"}, {"regex": "/a.*"}]),
)
MATCH = st.fixed_dictionaries(
    {},
    optional={
        "path": PATH_MATCH,
        "method": st.sampled_from(["GET", "POST"]),
        "headers": st.lists(
            st.fixed_dictionaries({"name": st.sampled_from(["x", "y"]), "exact": st.just("1")}),
            max_size=2,
        ),
    },
)


def _some_weight(backends: list[dict[str, Any]]) -> bool:
    return sum(int(b["weight"]) for b in backends) > 0


BACKENDS: st.SearchStrategy[list[dict[str, Any]]] = st.lists(
    st.fixed_dictionaries(
        {"version": st.sampled_from(["v1", "v2", "v3"]), "weight": st.integers(0, 100)}
    ),
    min_size=1,
    max_size=4,
).filter(_some_weight)
ROUTES = st.lists(
    st.builds(
        lambda i, ms, bs: {"name": f"r{i}", "matches": ms, "backends": bs},
        st.integers(0, 10**6),
        st.lists(MATCH, max_size=3),
        BACKENDS,
    ),
    max_size=4,
    unique_by=lambda r: r["name"],
)
HEADERS = st.dictionaries(st.sampled_from(["x", "y"]), st.just("1"), max_size=2)


def _spec(routes: list[dict[str, Any]]) -> Any:
    versions = [{"name": v} for v in ("v1", "v2", "v3")]
    return build(service("client"), service("svc", versions=versions, routes=routes))


@settings(max_examples=150, deadline=None)
@given(ROUTES, RAW_PATH, st.sampled_from(["GET", "POST"]), HEADERS)
def test_decisions_are_deterministic(
    routes: list[dict[str, Any]], path: str, method: str, headers: dict[str, str]
) -> None:
    request = Request("svc", path, method, headers, source="client")
    assert decide(_spec(routes), request) == decide(_spec(routes), request)


@settings(max_examples=150, deadline=None)
@given(ROUTES, RAW_PATH, st.sampled_from(["GET", "POST"]), HEADERS)
def test_backend_weights_sum_to_the_route_total(
    routes: list[dict[str, Any]], path: str, method: str, headers: dict[str, str]
) -> None:
    d = decide(_spec(routes), Request("svc", path, method, headers, source="client"))
    if d.route is None:
        return
    chosen = next(r for r in routes if r["name"] == d.route)
    assert sum(b.weight for b in d.backends) == sum(b["weight"] for b in chosen["backends"])


@settings(max_examples=150, deadline=None)
@given(
    ROUTES,
    st.lists(
        SEGMENT.filter(lambda s: s not in (".", "..", "") and "%" not in s), min_size=1, max_size=4
    ),
)
def test_the_most_specific_match_always_wins(
    routes: list[dict[str, Any]], segments: list[str]
) -> None:
    """Exact path, a method and more headers than any generated match: it wins anywhere."""
    path = "/" + "/".join(segments)
    headers = [{"name": n, "exact": "1"} for n in ("x", "y", "z")]
    specific = {
        "name": "specific",
        "matches": [{"path": {"exact": path}, "method": "GET", "headers": headers}],
        "backends": [{"version": "v1"}],
    }
    sent = {"x": "1", "y": "1", "z": "1"}
    for position in (0, len(routes)):
        with_specific = [*routes[:position], specific, *routes[position:]]
        d = decide(_spec(with_specific), Request("svc", path, "GET", sent, source="client"))
        assert d.route == "specific"


@settings(max_examples=100, deadline=None)
@given(ROUTES, st.sampled_from(["a", "api", "v1"]), st.sampled_from(["a", "b", "v1"]))
def test_a_longer_prefix_beats_a_shorter_one(
    routes: list[dict[str, Any]], first: str, second: str
) -> None:
    longer = {
        "name": "longer",
        "matches": [{"path": {"prefix": f"/{first}/{second}"}}],
        "backends": [{"version": "v1"}],
    }
    shorter = {
        "name": "shorter",
        "matches": [{"path": {"prefix": f"/{first}"}}],
        "backends": [{"version": "v2"}],
    }
    plain = [
        r for r in routes if all("path" not in m or "exact" not in m["path"] for m in r["matches"])
    ]
    d = decide(
        _spec([shorter, *plain, longer]), Request("svc", f"/{first}/{second}/z", source="client")
    )
    assert d.route == "longer"


@settings(max_examples=300, deadline=None)
@given(st.one_of(RAW_PATH, NOISY_TARGET))
def test_normalisation_is_idempotent_and_clean(target: str) -> None:
    norm = normalize_target(target)
    if not isinstance(norm, NormalizedTarget):
        return
    path = norm.path
    assert path.startswith("/")
    assert "//" not in path
    assert "/./" not in path and "/../" not in path
    assert not path.endswith("/.") and not path.endswith("/..")
    again = normalize_target(path)
    assert isinstance(again, NormalizedTarget) and again.path == path


@settings(max_examples=100, deadline=None)
@given(NOISY_TARGET)
def test_routing_and_authorization_see_the_same_path(target: str) -> None:
    authz = {
        "default": "allow",
        "rules": [{"name": "no-a", "action": "DENY", "to": {"paths": [{"prefix": "/a"}]}}],
    }
    routes = [
        {"name": "a", "matches": [{"path": {"prefix": "/a"}}]},
        {"name": "rest", "backends": [{}]},
    ]
    spec = build(service("client"), service("svc", routes=routes, authorization=authz))
    d = decide(spec, Request("svc", target, source="client"))
    if d.status == 400:
        return
    assert (d.route == "a") == (d.outcome is Outcome.DENIED)

"""Random specs: every compiled object fits Istio's real CRDs, and the output keeps the
neutral defaults and order whatever the input."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshspec.api import compile as compile_spec
from meshspec.codecs import dump_yaml
from meshspec.loader import load_texts
from meshspec.semantics import ordered_candidates
from meshspec.spec import Spec
from tests.adapters.validator import assert_valid_crds

NAMES = ["a", "b", "c"]
NAMESPACES = ["default", "prod"]
VERSIONS = ["v1", "v2"]
PATHS = ["/", "/api", "/api/v1", "/health", "/x/"]
MODES = ["STRICT", "PERMISSIVE", "DISABLE"]
DURATIONS = ["0s", "250ms", "1s", "10s", "1m"]

path_match = st.one_of(
    st.builds(lambda p: {"exact": p}, st.sampled_from(PATHS)),
    st.builds(lambda p: {"prefix": p}, st.sampled_from(PATHS)),
    st.builds(lambda p: {"regex": p + "[0-9]+"}, st.sampled_from(PATHS)),
)
header_match = st.builds(
    lambda n, kind, v: {"name": n, kind: True if kind == "present" else v},
    st.sampled_from(["x-user", "x-tier"]),
    st.sampled_from(["exact", "prefix", "regex", "present"]),
    st.sampled_from(["gold", "a.b"]),
)
query_match = st.builds(
    lambda n, kind: {"name": n, kind: True if kind == "present" else "1"},
    st.sampled_from(["q", "page"]),
    st.sampled_from(["exact", "regex", "present"]),
)


@st.composite
def route_match(draw: st.DrawFn) -> dict[str, Any]:
    m: dict[str, Any] = {}
    if draw(st.booleans()):
        m["path"] = draw(path_match)
    if draw(st.booleans()):
        m["method"] = draw(st.sampled_from(["GET", "POST"]))
    headers = draw(st.lists(header_match, max_size=2, unique_by=lambda h: h["name"]))
    if headers:
        m["headers"] = headers
    query = draw(st.lists(query_match, max_size=1))
    if query:
        m["queryParams"] = query
    return m


@st.composite
def route(draw: st.DrawFn, index: int, versions: list[str]) -> dict[str, Any]:
    r: dict[str, Any] = {"name": f"r{index}", "matches": draw(st.lists(route_match(), max_size=3))}
    backends = draw(
        st.lists(
            st.builds(
                lambda v, w: {"version": v, "weight": w} if v else {"weight": w},
                st.sampled_from([*versions, None]),
                st.integers(1, 100),
            ),
            max_size=3,
        )
    )
    if backends:
        r["backends"] = backends
    if draw(st.booleans()):
        r["timeout"] = draw(st.sampled_from(DURATIONS))
    if draw(st.booleans()):
        r["retries"] = {
            "attempts": draw(st.integers(0, 3)),
            "perTryTimeout": "1s",
            "retryOn": draw(
                st.lists(
                    st.sampled_from(["5xx", "reset", "gateway-error"]), min_size=1, unique=True
                )
            ),
            "statusCodes": draw(st.lists(st.sampled_from([429, 503]), unique=True)),
        }
    return r


@st.composite
def authz_rule(draw: st.DrawFn, index: int, peers: list[str]) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": f"z{index}", "action": draw(st.sampled_from(["ALLOW", "DENY"]))}
    sources = st.one_of(
        st.builds(lambda s: {"services": [s]}, st.sampled_from(peers)),
        st.builds(lambda n: {"namespaces": [n]}, st.sampled_from(NAMESPACES)),
        st.just({"authenticated": True}),
        st.just({"unauthenticated": True}),
        st.just({"identities": ["spiffe://other.org/ns/x/sa/y"]}),
    )
    rule["from"] = draw(st.lists(sources, max_size=2))
    if draw(st.booleans()):
        rule["to"] = {
            "methods": draw(st.lists(st.sampled_from(["GET", "PUT"]), unique=True)),
            "paths": draw(st.lists(path_match, max_size=2)),
            "headers": draw(st.lists(header_match, max_size=2, unique_by=lambda h: h["name"])),
        }
    return rule


resilience = st.fixed_dictionaries(
    {},
    optional={
        "outlierDetection": st.fixed_dictionaries(
            {}, optional={"consecutive5xxErrors": st.integers(0, 9), "interval": st.just("5s")}
        ),
        "connectionLimits": st.fixed_dictionaries(
            {}, optional={"maxConnections": st.integers(1, 99), "maxPendingRequests": st.just(5)}
        ),
    },
)


@st.composite
def service(draw: st.DrawFn, key: tuple[str, str], peers: list[str]) -> dict[str, Any]:
    ns, name = key
    versions = draw(st.lists(st.sampled_from(VERSIONS), unique=True))
    ports = draw(st.lists(st.sampled_from([80, 8080, 9090]), min_size=1, max_size=2, unique=True))
    spec: dict[str, Any] = {
        "ports": [{"port": p} for p in ports],
        "versions": [{"name": v, "resilience": draw(resilience)} for v in versions],
        "routes": [draw(route(i, versions)) for i in range(draw(st.integers(0, 3)))],
    }
    if draw(st.booleans()):
        spec["mtls"] = {
            "mode": draw(st.sampled_from(MODES)),
            "ports": {ports[0]: draw(st.sampled_from(MODES))},
        }
    if draw(st.booleans()):
        spec["authorization"] = {
            "default": draw(st.sampled_from(["allow", "deny"])),
            "rules": [draw(authz_rule(i, peers)) for i in range(draw(st.integers(0, 3)))],
        }
    if draw(st.booleans()):
        spec["resilience"] = draw(resilience)
    meta = {"name": name, "namespace": ns}
    return {"apiVersion": "meshspec.io/v1alpha1", "kind": "Service", "metadata": meta, "spec": spec}


@st.composite
def spec_text(draw: st.DrawFn) -> str:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(NAMES)),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    peers = [f"{ns}/{name}" for ns, name in keys]
    mesh = {
        "apiVersion": "meshspec.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "m"},
        "spec": {"mtls": {"mode": draw(st.sampled_from(MODES))}},
    }
    return dump_yaml([mesh, *(draw(service(k, peers)) for k in keys)])


def _load(text: str) -> Spec:
    loaded = load_texts([("random.yaml", text)])
    assert loaded.ok and loaded.spec is not None, [d.render() for d in loaded.diagnostics]
    return loaded.spec


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_text())
def test_every_object_fits_istio_crds(text: str) -> None:
    spec = _load(text)
    result = compile_spec(spec, "istio", ["all"])
    assert_valid_crds(result.resources, "istio")
    text = dump_yaml(result.resources)
    assert text == dump_yaml(compile_spec(spec, "istio", ["all"]).resources)
    assert "&id" not in text, "shared objects come out as YAML anchors"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_text())
def test_rules_follow_precedence_and_never_inherit_istio_defaults(text: str) -> None:
    spec = _load(text)
    result = compile_spec(spec, "istio", ["all"])
    services = {
        (r["metadata"]["namespace"], r["metadata"]["name"]): r
        for r in result.resources
        if r["kind"] == "VirtualService"
    }
    for key, svc in spec.services.items():
        vs = services[(svc.metadata.namespace, svc.metadata.name)]
        rules = vs["spec"]["http"]
        assert all("retries" in rule for rule in rules)
        if not svc.spec.routes:
            assert len(rules) == 1 and "match" not in rules[0], key
            continue
        expected = [
            c.route.name if c.match_index is None else f"{c.route.name}.{c.match_index}"
            for c in ordered_candidates(svc)
        ]
        assert [rule["name"] for rule in rules] == expected
        for rule, cand in zip(rules, ordered_candidates(svc), strict=True):
            timeout = cand.route.timeout
            assert ("timeout" in rule) == (timeout is None or timeout > 0)
            assert rule["retries"]["attempts"] == (
                cand.route.retries.attempts if cand.route.retries else 0
            )

"""The Consul output grows with the mesh, not with its square: every caller's UpstreamConfig
holds the setting most upstreams share as `Defaults` and overrides only where they differ,
and a namespace source that is all of Consul's one namespace is one `*` source. Each keeps
what the spec means: the model over the output answers as the oracle does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.consul.model import ConsulModel, as_entries
from bench.compile.mesh import generated_spec
from meshspec.adapter import CompileOptions, Topology, Verdict
from meshspec.codecs import dump_yaml
from meshspec.loader import load_texts
from meshspec.registry import get_adapter
from meshspec.semantics import Request, decide
from meshspec.spec import Spec

SHARED = {
    "outlierDetection": {"consecutive5xxErrors": 5},
    "connectionLimits": {"maxConnections": 100, "maxPendingRequests": 10},
}
#: what each service sets: most share one setting; one has no limits, one has none at all
RESILIENCE: dict[str, dict[str, Any] | None] = {
    "a": SHARED,
    "b": SHARED,
    "c": SHARED,
    "d": {"outlierDetection": {"consecutive5xxErrors": 2}},
    "e": None,
    "f": {"connectionLimits": {"maxConnections": 7}},
}


def _spec(
    resilience: dict[str, dict[str, Any] | None],
    namespaces: dict[str, str],
    authorization: dict[str, dict[str, Any]] | None = None,
) -> Spec:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "meshspec.io/v1alpha1", "kind": "Mesh", "metadata": {"name": "m"}}
    ]
    for name, res in resilience.items():
        spec: dict[str, Any] = {"ports": [{"port": 80, "name": "http"}]}
        if res is not None:
            spec["resilience"] = res
        if authorization and name in authorization:
            spec["authorization"] = authorization[name]
        docs.append(
            {
                "apiVersion": "meshspec.io/v1alpha1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespaces.get(name, "default")},
                "spec": spec,
            }
        )
    loaded = load_texts([("mesh.yaml", dump_yaml(docs))])
    assert loaded.ok and loaded.spec is not None, loaded
    return loaded.spec


def _compiled(spec: Spec, target: str = "consul") -> tuple[list[dict[str, Any]], list[str]]:
    result = get_adapter(target).compile(spec, CompileOptions(allow_lossy=frozenset({"all"})))
    return [dict(r) for r in result.resources], [d.code for d in result.diagnostics]


def test_the_shared_setting_is_the_defaults_and_the_others_override_it() -> None:
    entries, _ = _compiled(_spec(RESILIENCE, {}))
    configs = [
        e["UpstreamConfig"]
        for e in entries
        if e["kind"] == "service-defaults" and "UpstreamConfig" in e
    ]
    assert len(configs) == len(RESILIENCE)
    config = configs[0]
    assert all(c == config for c in configs)
    assert config["Defaults"] == {
        "PassiveHealthCheck": {
            "Interval": "10s",
            "BaseEjectionTime": "30s",
            "MaxEjectionPercent": 10,
            "MaxFailures": 5,
            "EnforcingConsecutive5xx": 100,
        },
        "Limits": {"MaxConnections": 100, "MaxPendingRequests": 10},
    }
    overrides = {o["Name"]: o for o in config["Overrides"]}
    assert sorted(overrides) == ["d", "e", "f"]
    # Consul merges an override over the defaults: one without limits empties them
    assert overrides["d"]["Limits"] == {} and overrides["e"]["Limits"] == {}
    assert overrides["e"]["PassiveHealthCheck"] == {"EnforcingConsecutive5xx": 0}
    assert overrides["f"]["Limits"] == {"MaxConnections": 7}


@pytest.mark.parametrize(
    "resilience",
    [
        pytest.param(RESILIENCE, id="mostly-shared"),
        pytest.param({**dict.fromkeys("abc"), "d": SHARED}, id="mostly-none"),
        pytest.param({"a": SHARED, "b": None}, id="tie"),
    ],
)
def test_every_caller_applies_to_every_upstream_what_the_spec_says(
    resilience: dict[str, dict[str, Any] | None],
) -> None:
    spec = _spec(resilience, {})
    entries, _ = _compiled(spec)
    model = ConsulModel(as_entries(entries), Topology.of(spec))
    for caller in resilience:
        for upstream in resilience:
            request = Request(destination=upstream, source=caller, target="/")
            expected = Verdict.of(decide(spec, request))
            assert model.decide(request).breakers == expected.breakers, (caller, upstream)


def test_no_overrides_where_every_upstream_shares_one_setting() -> None:
    entries, _ = _compiled(_spec(dict.fromkeys("abc", SHARED), {}))
    for e in entries:
        if e["kind"] == "service-defaults":
            assert set(e["UpstreamConfig"]) == {"Defaults"}


def _intentions(entries: list[dict[str, Any]], name: str) -> list[str]:
    [found] = [e for e in entries if e["kind"] == "service-intentions" and e["Name"] == name]
    return [str(s["Name"]) for s in found["Sources"]]


def _namespace_rule(namespaces: dict[str, str]) -> Spec:
    """Service a allows its own namespace, nobody else."""
    rule = {
        "name": "team",
        "action": "ALLOW",
        "from": [{"namespaces": [namespaces.get("a", "default")]}],
    }
    return _spec(dict.fromkeys("abc"), namespaces, {"a": {"default": "deny", "rules": [rule]}})


def test_a_namespace_that_is_all_of_consuls_one_namespace_is_one_wildcard_source() -> None:
    spec = _namespace_rule({})
    entries, codes = _compiled(spec)
    assert _intentions(entries, "a") == ["*"]
    assert "MS4034" not in codes
    model = ConsulModel(as_entries(entries), Topology.of(spec))
    for caller in "abc":
        request = Request(destination="a", source=caller, target="/")
        assert model.decide(request).authz == Verdict.of(decide(spec, request)).authz == "allow"


@pytest.mark.parametrize(
    ("target", "namespaces"),
    [
        # services of other namespaces share Consul CE's one namespace
        pytest.param("consul", {"a": "team", "b": "team"}, id="other-namespaces"),
        # consul-k8s registers every Kubernetes namespace's services in Consul's one namespace
        pytest.param("consul-k8s", {}, id="consul-k8s"),
    ],
)
def test_a_namespace_consul_cannot_name_is_written_as_its_services_and_said_so(
    target: str, namespaces: dict[str, str]
) -> None:
    entries, codes = _compiled(_namespace_rule(namespaces), target)
    if target == "consul-k8s":
        from adapters.consul.entries import from_crd

        entries = [from_crd(e) for e in entries]
    members = sorted(
        n for n in "abc" if namespaces.get(n, "default") == namespaces.get("a", "default")
    )
    assert _intentions(entries, "a") == [*members, "*"]
    assert "MS4034" in codes


def _size(n: int, target: str) -> int:
    entries, _ = _compiled(generated_spec(n), target)
    return len(json.dumps(entries))


@pytest.mark.parametrize("target", ["consul", "consul-k8s"])
def test_twice_the_services_write_about_twice_the_output(target: str) -> None:
    """The generated benchmark mesh (every service with the same resilience, namespaces of
    50 services, a rule on the service's own namespace): doubling it doubles the output."""
    small, large = _size(50, target), _size(100, target)
    assert large / small < 2.1, (small, large)

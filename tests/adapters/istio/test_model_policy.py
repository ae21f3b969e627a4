"""Breaker policy and request header edits as the Istio model reads them from Istio objects,
and the native names it reports mapped back to neutral ones."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.istio import adapter
from adapters.istio.model import IstioModel
from meshspec.adapter import CompileOptions, Topology, Verdict, Workload
from meshspec.loader import load_texts
from meshspec.semantics import Request, decide

TOPOLOGY = Topology(
    "cluster.local",
    {
        "default/reviews": Workload(
            "default/reviews",
            "default",
            "reviews",
            "reviews",
            ((9080, "http"), (9090, "http")),
            {"v1": {"version": "v1"}, "v2": {"version": "v2"}},
        ),
        "default/sleep": Workload(
            "default/sleep", "default", "sleep", "sleep", ((80, "http"),), {}
        ),
    },
)

OD_TOP = {"consecutive5xxErrors": 3, "interval": "5s", "baseEjectionTime": "1m"}
OD_SUBSET = {"consecutive5xxErrors": 1}
OD_PORT = {"consecutive5xxErrors": 7, "maxEjectionPercent": 50}
POOL = {"tcp": {"maxConnections": 10}, "http": {"http1MaxPendingRequests": 5}}


def destination_rule() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {
            "host": "reviews.default.svc.cluster.local",
            "trafficPolicy": {
                "outlierDetection": OD_TOP,
                "connectionPool": POOL,
                "portLevelSettings": [
                    {"port": {"number": 9090}, "outlierDetection": OD_PORT},
                ],
            },
            "subsets": [
                {"name": "v1", "labels": {"version": "v1"}},
                {
                    "name": "v2",
                    "labels": {"version": "v2"},
                    "trafficPolicy": {"outlierDetection": OD_SUBSET},
                },
            ],
        },
    }


def virtual_service(subset: str, port: int, headers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {
            "hosts": ["reviews"],
            "http": [
                {
                    "name": "all.0",
                    "route": [
                        {
                            "destination": {
                                "host": "reviews",
                                "subset": subset,
                                "port": {"number": port},
                            }
                        }
                    ],
                    "headers": {"request": headers},
                }
            ],
        },
    }


def _od(**fields: Any) -> dict[str, Any]:
    base = {"interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 10}
    return {**base, **fields}


@pytest.mark.parametrize(
    ("subset", "port", "outlier"),
    [
        # DestinationRule level, Istio's defaults for fields left out
        ("v1", 9080, {**_od(consecutive5xxErrors=3, interval="5s", baseEjectionTime="1m")}),
        # the subset's outlierDetection replaces the whole DestinationRule one
        ("v2", 9080, _od(consecutive5xxErrors=1)),
        # port-level settings replace the destination-level ones for their port
        ("v1", 9090, _od(consecutive5xxErrors=7, maxEjectionPercent=50)),
        # ... and a subset still overrides them
        ("v2", 9090, _od(consecutive5xxErrors=1)),
    ],
)
def test_breaker_policy_follows_destination_rule_overrides(
    subset: str, port: int, outlier: dict[str, Any]
) -> None:
    model = IstioModel([destination_rule(), virtual_service(subset, port, {})], TOPOLOGY)
    verdict = model.decide(Request("reviews", "/", source="sleep", port=port))
    [policy] = verdict.breakers.values()
    assert policy.to_json() == {
        "outlierDetection": {"consecutiveGatewayErrors": None, **outlier},
        "connectionLimits": {"maxConnections": 10, "maxPendingRequests": 5},
    }


def test_no_destination_rule_and_no_sidecar_mean_no_breaker() -> None:
    resources = [destination_rule(), virtual_service("v1", 9080, {})]
    outside = IstioModel(resources, TOPOLOGY).decide(Request("reviews", "/", port=9080))
    assert [p.to_json() for p in outside.breakers.values()] == [
        {"outlierDetection": None, "connectionLimits": None}
    ]
    bare = IstioModel([], TOPOLOGY).decide(Request("reviews", "/", source="sleep"))
    assert [p.outlier_detection for p in bare.breakers.values()] == [None]


@pytest.mark.parametrize(
    ("sent", "edits", "received"),
    [
        ({"x-a": "1"}, {"set": {"X-B": "2"}}, {"x-a": "1", "x-b": "2"}),
        ({"x-a": "1"}, {"set": {"x-a": "2"}}, {"x-a": "2"}),
        ({"x-a": "1"}, {"add": {"x-a": "2"}}, {"x-a": "1,2"}),
        ({"x-a": "1"}, {"remove": ["X-A"]}, {}),
        # Envoy removes before it adds: a header both set and removed is set
        ({"x-a": "1"}, {"set": {"x-a": "2"}, "remove": ["x-a"]}, {"x-a": "2"}),
        ({}, {"set": {"x-a": "s"}, "add": {"x-a": "a"}}, {"x-a": "s,a"}),
    ],
)
def test_request_header_edits(
    sent: dict[str, str], edits: dict[str, Any], received: dict[str, str]
) -> None:
    model = IstioModel([destination_rule(), virtual_service("v1", 9080, edits)], TOPOLOGY)
    verdict = model.decide(Request("reviews", "/", headers=sent, source="sleep"))
    assert verdict.headers == received


def test_no_backend_reached_means_no_headers() -> None:
    model = IstioModel([destination_rule(), virtual_service("v1", 9080, {})], TOPOLOGY)
    assert model.decide(Request("reviews", "/%00", source="sleep")).headers is None


SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  resilience:
    outlierDetection: {consecutive5xxErrors: 2, consecutiveGatewayErrors: 4}
    connectionLimits: {maxRequestsPerConnection: 3}
  versions:
    - {name: v1}
    - {name: v2, resilience: {connectionLimits: {maxConnections: 1}}}
  routes:
    - name: api
      matches: [{path: {prefix: /api}}, {method: POST}]
      backends: [{version: v1, weight: 1}, {version: v2, weight: 3}]
      requestHeaders: {set: {x-env: prod}, add: {x-tag: b}, remove: [x-debug]}
    - {name: rest}
  authorization:
    default: allow
    rules:
      - {name: no-admin, action: DENY, to: {paths: [{prefix: /admin}]}}
      - {name: no-debug, action: DENY, to: {paths: [{exact: /debug}]}}
      - {name: client-only, action: ALLOW, from: [{services: [client]}]}
"""


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/api/x", {"x-tag": "a", "x-debug": "1"}),
        ("POST", "/other", {}),
        ("GET", "/admin", {}),
        ("GET", "/debug", {}),
        ("GET", "/rest", {"x-env": "dev"}),
    ],
)
@pytest.mark.parametrize("source", ["client", "web"])
def test_compiled_model_agrees_with_the_oracle(
    method: str, target: str, headers: dict[str, str], source: str
) -> None:
    """Names mapped back, breakers and headers: the model over the compiled output."""
    spec = load_texts([("spec.yaml", SPEC)]).spec
    assert spec is not None
    compiled = adapter.compile(spec, CompileOptions())
    names = adapter.neutral_names(compiled.resources)
    request = Request("web", target, method, headers, source=source)
    got = adapter.model(compiled.resources, Topology.of(spec)).decide(request)
    want = Verdict.of(decide(spec, request))
    renamed = {
        "route": None if got.route is None else names.get(got.route, got.route),
        "authz_rule": None if got.authz_rule is None else names.get(got.authz_rule) or None,
    }
    assert renamed == {"route": want.route, "authz_rule": want.authz_rule}
    fields = ["outcome", "status", "backends", "authz", "breakers", "headers"]
    assert got.differences(want, fields) == {}


def test_neutral_names_leave_hand_written_objects_alone() -> None:
    policy = {
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"action": "DENY", "rules": [{}, {}]},
    }
    route = {"kind": "VirtualService", "spec": {"http": [{"name": "a.b"}, {"name": "api.12"}]}}
    assert adapter.neutral_names([policy, route]) == {"a.b": "a.b", "api.12": "api"}


def test_envoy_rbac_reads_each_header_line_trimmed_and_never_splits_a_line() -> None:
    """Envoy trims each line and its RBAC matches each line on its own (a real Envoy does,
    test_deny_header_elements.py), so a DENY on exactly '1' holds for '1' sent twice but
    not for the one line '0, 1': the model says so (the neutral spec denies both)."""
    policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "no-debug", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "reviews"}},
            "action": "DENY",
            "rules": [{"when": [{"key": "request.headers[x-debug]", "values": ["1"]}]}],
        },
    }
    model = IstioModel([policy], TOPOLOGY)

    def status(value: str | list[str]) -> int | None:
        request = Request("reviews", "/", headers={"x-debug": value}, source="sleep")
        return model.decide(request).status

    assert status("1 ") == 403
    assert status("\t1") == 403
    assert status(["1", "1"]) == 403
    assert status(["0", " 1"]) == 403
    assert status("1,1") is None
    assert status("0, 1") is None

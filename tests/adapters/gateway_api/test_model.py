"""Gateway API's own meaning of GAMMA HTTPRoutes (the gateway-api model) over hand-written
routes: the specification's precedence (where Linkerd's proxy differs), producer and
consumer routes, 404 and 500."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from adapters.gateway_api.model import GatewayApiModel
from adapters.linkerd.model import LinkerdModel
from meshspec.adapter import Topology, Workload
from meshspec.semantics import Outcome, Request

TOPOLOGY = Topology(
    "cluster.local",
    {
        "default/client": Workload(
            "default/client", "default", "client", "client", ((80, "http"),), {}
        ),
        "team/tester": Workload("team/tester", "team", "tester", "tester", ((80, "http"),), {}),
        "default/web": Workload(
            "default/web", "default", "web", "web", ((80, "http"),), {"a": {}, "b": {}}
        ),
    },
)


def _routes(*rules: tuple[str, str], namespace: str = "default") -> list[dict[str, Any]]:
    ref = "{{name: web-{v}, namespace: default, port: 80}}"
    body = "".join(
        f"    - matches: [{match}]\n      backendRefs: [{ref.format(v=v)}]\n" for match, v in rules
    )
    return [
        yaml.safe_load(
            f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: {namespace}}}
spec:
  parentRefs: [{{group: "", kind: Service, name: web, namespace: default}}]
  rules:
{body}"""
        )
    ]


def _version(model: Any, source: str = "default/client", **request: Any) -> str:
    verdict = model.decide(Request("web.default", source=source, **request))
    if verdict.outcome is not Outcome.FORWARDED:
        return str(verdict.status)
    ((_, version),) = verdict.backends
    return str(version)


# (rules in order, request, Gateway API's answer, Linkerd's released proxy)
CASES = [
    (
        [
            ("{path: {type: PathPrefix, value: /foo}}", "a"),
            ("{path: {type: Exact, value: /foo}}", "b"),
        ],
        {"target": "/foo"},
        "b",
        "a",
    ),
    (
        [("{headers: [{name: x-a, value: '1'}]}", "a"), ("{method: GET}", "b")],
        {"target": "/", "headers": {"x-a": "1"}},
        "b",
        "a",
    ),
    (
        [
            ("{path: {type: PathPrefix, value: /docs}}", "a"),
            ("{path: {type: RegularExpression, value: '/docs/[a-z]+'}}", "b"),
        ],
        {"target": "/docs/x"},
        "a",
        "b",
    ),
    ([("{path: {type: PathPrefix, value: /api}}", "a")], {"target": "/apix"}, "404", "404"),
    (
        [("{headers: [{name: x-a, value: '1'}, {name: x-a, value: '2'}]}", "a")],
        {"target": "/", "headers": {"x-a": "1"}},
        "a",
        "404",
    ),
]


@pytest.mark.parametrize(("rules", "request_", "spec", "linkerd"), CASES)
def test_the_specification_and_linkerd_side_by_side(
    rules: list[tuple[str, str]], request_: dict[str, Any], spec: str, linkerd: str
) -> None:
    routes = _routes(*rules)
    assert _version(GatewayApiModel(routes, TOPOLOGY), **request_) == spec
    assert _version(LinkerdModel(routes, TOPOLOGY), **request_) == linkerd


def test_a_consumer_route_replaces_the_producers_for_its_namespace() -> None:
    routes = [
        *_routes(("{path: {type: PathPrefix, value: /}}", "a")),
        *_routes(("{path: {type: PathPrefix, value: /}}", "b"), namespace="team"),
    ]
    model = GatewayApiModel(routes, TOPOLOGY)
    assert _version(model, target="/") == "a"
    assert _version(model, source="team/tester", target="/") == "b"


def test_a_backend_that_names_no_service_gets_500() -> None:
    routes = _routes(("{path: {type: PathPrefix, value: /}}", "zzz"))
    assert _version(GatewayApiModel(routes, TOPOLOGY), target="/") == "500"


def test_no_route_is_the_implementations_default() -> None:
    verdict = GatewayApiModel([], TOPOLOGY).decide(Request("web", "/", source="default/client"))
    assert (verdict.outcome, verdict.route, verdict.timeout) == (Outcome.FORWARDED, None, None)

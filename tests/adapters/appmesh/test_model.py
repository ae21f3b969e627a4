"""The App Mesh model on App Mesh's own resources, case by case: the worked precedence
examples of the semantics notes (App Mesh column), header matches with `invert` and
`range`, relative weights, the hidden default retries as a setting, timeouts, and the
egress filter."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.appmesh.model import AppMeshModel
from adapters.appmesh.resources import NEW_ACCOUNT, Settings
from meshspec.adapter import Topology, Workload
from meshspec.semantics import Outcome, Request

TOPOLOGY = Topology(
    "cluster.local",
    {
        "prod/api": Workload(
            "prod/api",
            "prod",
            "api",
            "api",
            ((80, "http"),),
            {"a": {"version": "a"}, "b": {"version": "b"}},
        ),
        "prod/web": Workload("prod/web", "prod", "web", "web", ((80, "http"),), {}),
    },
)


def node(name: str, **spec: Any) -> dict[str, Any]:
    listener = {"portMapping": {"port": 80, "protocol": "http"}, **spec.pop("listener", {})}
    body = {"listeners": [listener], "serviceDiscovery": {"dns": {"hostname": f"{name}.prod"}}}
    return {"virtualNode": {"meshName": "m", "virtualNodeName": name, "spec": {**body, **spec}}}


def route(name: str, priority: int | None, match: dict[str, Any], **extra: Any) -> dict[str, Any]:
    targets = extra.pop("targets", [{"virtualNode": f"api-{name}", "weight": 1}])
    body: dict[str, Any] = {"match": match, "action": {"weightedTargets": targets}, **extra}
    spec: dict[str, Any] = {"httpRoute": body}
    if priority is not None:
        spec["priority"] = priority
    return {"route": {"meshName": "m", "virtualRouterName": "r", "routeName": name, "spec": spec}}


def mesh(*routes: dict[str, Any], egress: str = "DROP_ALL", **node_spec: Any) -> list[Any]:
    return [
        {"mesh": {"meshName": "m", "spec": {"egressFilter": {"type": egress}}}},
        {
            "virtualService": {
                "meshName": "m",
                "virtualServiceName": "api.prod.svc.cluster.local",
                "spec": {"provider": {"virtualRouter": {"virtualRouterName": "r"}}},
            }
        },
        {
            "virtualRouter": {
                "meshName": "m",
                "virtualRouterName": "r",
                "spec": {"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]},
            }
        },
        node("api-a", **node_spec),
        node("api-b", **node_spec),
        node(
            "web",
            backends=[{"virtualService": {"virtualServiceName": "api.prod.svc.cluster.local"}}],
        ),
        *routes,
    ]


def ask(resources: list[Any], path: str = "/", settings: Settings = NEW_ACCOUNT, **kw: Any) -> Any:
    model = AppMeshModel(resources, TOPOLOGY, settings)
    return model.decide(Request("prod/api", path, source=kw.pop("source", "prod/web"), **kw))


@pytest.mark.parametrize(
    ("routes", "request_", "chosen"),
    [
        # A: prefix / first, then /api: App Mesh takes the first match
        ([("a", 0, {"prefix": "/"}), ("b", 1, {"prefix": "/api"})], ("/api/x", {}), "a"),
        # B: a string prefix takes /usrv-expand too (assumed, as Envoy's `prefix`)
        (
            [("a", 0, {"prefix": "/usrv"}), ("b", 1, {"prefix": "/usrv-expand"})],
            ("/usrv-expand/1", {}),
            "a",
        ),
        # C: prefix /foo before exact /foo
        ([("a", 0, {"prefix": "/foo"}), ("b", 1, {"path": {"exact": "/foo"}})], ("/foo", {}), "a"),
        # D: header before method
        (
            [
                ("a", 0, {"prefix": "/", "headers": [{"name": "x-a", "match": {"exact": "1"}}]}),
                ("b", 1, {"prefix": "/", "method": "GET"}),
            ],
            ("/", {"x-a": "1"}),
            "a",
        ),
        # priority, not the order written, decides
        ([("b", 1, {"prefix": "/"}), ("a", 0, {"prefix": "/"})], ("/", {}), "a"),
    ],
)
def test_the_first_match_in_priority_order(routes: Any, request_: Any, chosen: str) -> None:
    path, headers = request_
    verdict = ask(mesh(*(route(*r) for r in routes)), path, headers=headers)
    assert verdict.route == chosen
    assert verdict.backends == {("prod/api", chosen): 1.0}


def test_no_match_is_404() -> None:
    verdict = ask(mesh(route("a", 0, {"prefix": "/api"})), "/other")
    assert (verdict.outcome, verdict.status) == (Outcome.NO_ROUTE, 404)


@pytest.mark.parametrize(
    ("header", "value", "holds"),
    [
        ({"match": {"range": {"start": 1, "end": 5}}}, "4", True),
        ({"match": {"range": {"start": 1, "end": 5}}}, "5", False),  # end is exclusive
        ({"match": {"suffix": ".json"}}, "a.json", True),
        ({"invert": True, "match": {"exact": "1"}}, "2", True),
        ({"invert": True, "match": {"exact": "1"}}, "1", False),
        ({"invert": True, "match": {"exact": "1"}}, None, True),  # absent: not "1"
        ({}, "anything", True),  # no match: present
        ({}, None, False),
    ],
)
def test_header_match_kinds(header: dict[str, Any], value: str | None, holds: bool) -> None:
    resources = mesh(route("a", 0, {"prefix": "/", "headers": [{"name": "x-n", **header}]}))
    headers = {} if value is None else {"x-n": value}
    verdict = ask(resources, "/", headers=headers)
    assert (verdict.outcome == Outcome.FORWARDED) == holds


def test_weights_are_relative() -> None:
    targets = [{"virtualNode": "api-a", "weight": 1}, {"virtualNode": "api-b", "weight": 3}]
    verdict = ask(mesh(route("a", 0, {"prefix": "/"}, targets=targets)))
    assert verdict.backends == {("prod/api", "a"): 0.25, ("prod/api", "b"): 0.75}


def test_the_hidden_default_retry_policy_is_a_setting() -> None:
    resources = mesh(route("a", 0, {"prefix": "/"}))
    assert ask(resources).retries.attempts == 2
    assert ask(resources).retries.status_codes == (503,)
    assert ask(resources, settings=Settings(default_retries=False)).retries.attempts == 0


def test_the_smaller_of_route_and_listener_timeout_applies() -> None:
    fast_listener = {"listener": {"timeout": {"http": {"perRequest": {"unit": "s", "value": 3}}}}}
    slow_route = {"timeout": {"perRequest": {"unit": "s", "value": 60}}}
    assert ask(mesh(route("a", 0, {"prefix": "/"}))).timeout == 15.0
    assert ask(mesh(route("a", 0, {"prefix": "/"}, **slow_route))).timeout == 15.0
    assert ask(mesh(route("a", 0, {"prefix": "/"}, **slow_route), **fast_listener)).timeout == 3


def test_the_egress_filter_decides_who_reaches_a_service() -> None:
    resources = mesh(route("a", 0, {"prefix": "/"}))
    # api-a declares no backend: with DROP_ALL its own Envoy refuses the call
    assert ask(resources, source="prod/api").outcome == Outcome.DENIED
    assert ask(resources, source="prod/web").outcome == Outcome.FORWARDED


def test_tls_strict_refuses_plaintext_from_outside_the_mesh() -> None:
    tls = {"listener": {"tls": {"mode": "STRICT", "certificate": {"sds": {"secretName": "x"}}}}}
    resources = mesh(route("a", 0, {"prefix": "/"}), **tls)
    assert ask(resources, source=None).outcome == Outcome.MTLS_REFUSED
    # web has no client policy: it speaks plaintext to a STRICT listener
    assert ask(resources).outcome == Outcome.MTLS_REFUSED

"""The istio-live target's own logic, without Istio: what it applies and how it reads Envoy.

The target itself runs against real istiod and Envoy in
tests/realservers/test_istio_live*.py; these pin the pieces whose mistakes
would make it misreport what Envoy did.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from adapters.kit.envoy import DEFAULT_ROUTE_TIMEOUT
from conformance.case import Probe
from conformance.observation import Observation
from conformance.targets import default_target_names, get_target, target_names
from conformance.targets.discovery import live_installed
from conformance.targets.istio_live import (
    _find_route,
    _retry_policy,
    _route_timeout,
    host_of,
    target_port_of,
)
from conformance.targets.istio_live_differential import compare
from conformance.targets.istio_live_mesh import (
    AddressBlock,
    Workload,
    WorkloadPort,
    _epoch,
    _error_states,
    workload_manifests,
)
from meshspec.semantics import RetryPolicy
from meshspec.spec import RetryOn


def test_istio_live_is_a_default_target_beside_the_istio_model() -> None:
    names = default_target_names()
    if not live_installed("istio-live"):
        assert "istio-live" not in names  # `meshspec conformance` still runs everything else
        names = [*names, "istio-live"]
    assert names.index("istio-live") == names.index("istio") + 1
    assert "istio-live" in target_names()
    assert get_target("istio-live").name == "istio-live"
    assert get_target("istio").label == "istio (model)"  # type: ignore[attr-defined]


@pytest.mark.parametrize("port", [1, 80, 8080, 55535, 55536, 65535])
def test_target_port_never_equals_the_service_port(port: int) -> None:
    target = target_port_of(port)
    assert target != port
    assert 1 <= target <= 65535


def _probe(**fields: Any) -> Probe:
    return Probe.model_validate({"from": "client", "expect": {"status": 200}, **fields})


def test_host_header_of_a_probe() -> None:
    assert host_of(_probe(to="echo")) == "echo"
    assert host_of(_probe(to="old/legacy")) == "legacy.old.svc.cluster.local"
    assert host_of(_probe(to="echo", port=8080)) == "echo:8080"
    # a bare name means a service in `default`; from `ops` it is reached by its full name
    assert host_of(_probe(to="echo"), "ops") == "echo.default.svc.cluster.local"
    assert host_of(_probe(to="legacy.old"), "ops") == "legacy.old"


def _workload(name: str, address: str, version: str | None) -> Workload:
    return Workload(
        name=name,
        namespace="ops",
        service="echo",
        service_account="echo-sa",
        labels={"app": "echo", **({"version": version} if version else {})},
        address=address,
        ports=(WorkloadPort(port=80, target_port=10080, name="http-80", protocol="http"),),
        app_port=41000,
    )


def test_workload_manifests_bind_each_sidecar_to_its_own_address() -> None:
    docs = workload_manifests(
        [_workload("echo-v1", "127.9.9.2", "v1"), _workload("echo-v2", "127.9.9.3", "v2")]
    )
    kinds = [d["kind"] for d in docs]
    assert kinds.count("Namespace") == 1 and kinds.count("ServiceAccount") == 1
    service = next(d for d in docs if d["kind"] == "Service")
    assert service["spec"]["ports"] == [
        {
            "name": "http-80",
            "port": 80,
            "targetPort": 10080,
            "protocol": "TCP",
            "appProtocol": "http",
        }
    ]
    entries = {d["metadata"]["name"]: d for d in docs if d["kind"] == "WorkloadEntry"}
    assert entries["echo-v2"]["spec"]["address"] == "127.9.9.3"
    assert entries["echo-v2"]["spec"]["labels"]["version"] == "v2"
    assert entries["echo-v2"]["spec"]["labels"]["security.istio.io/tlsMode"] == "istio"
    sidecar = next(
        d for d in docs if d["kind"] == "Sidecar" and d["metadata"]["name"] == "echo-v2"
    )["spec"]
    assert sidecar["workloadSelector"] == {"labels": {"meshspec.io/workload": "echo-v2"}}
    assert sidecar["ingress"] == [
        {
            "port": {"number": 10080, "protocol": "HTTP", "name": "http-80"},
            "bind": "127.9.9.3",
            "captureMode": "NONE",
            "defaultEndpoint": "127.0.0.1:41000",
        }
    ]
    assert sidecar["egress"] == [{"hosts": ["*/*"], "bind": "127.9.9.3", "captureMode": "NONE"}]


def test_two_address_blocks_never_overlap() -> None:
    first, second = AddressBlock().reserve(), AddressBlock().reserve()
    try:
        assert first.prefix != second.prefix
        assert first.address(0).startswith(first.prefix) and first.address(0).endswith(".2")
    finally:
        first.release()
        second.release()


DUMP = {
    "configs": [
        {
            "dynamic_route_configs": [
                {
                    "route_config": {
                        "name": "80",
                        "virtual_hosts": [
                            {
                                "name": "echo.default.svc.cluster.local:80",
                                "domains": ["echo.default.svc.cluster.local", "echo"],
                                "routes": [
                                    {"name": "short", "route": {"timeout": "3s"}},
                                    {"name": "default", "route": {"timeout": "0s"}},
                                ],
                            },
                            {
                                "name": "allow_any",
                                "domains": ["*"],
                                "routes": [{"name": "allow_any", "route": {}}],
                            },
                        ],
                    }
                }
            ]
        }
    ]
}


def test_a_route_is_found_in_the_virtual_host_of_the_request() -> None:
    assert _find_route(DUMP, "short", "echo") == {"name": "short", "route": {"timeout": "3s"}}
    assert _find_route(DUMP, "short", "Echo:80", port=80) == {
        "name": "short",
        "route": {"timeout": "3s"},
    }
    assert _find_route(DUMP, "allow_any", "other.example") == {"name": "allow_any", "route": {}}
    assert _find_route(DUMP, "short", "other.example") is None


def test_route_timeouts_as_envoy_applies_them() -> None:
    assert _route_timeout({}) == DEFAULT_ROUTE_TIMEOUT == 15.0  # RouteAction.timeout default
    assert _route_timeout({"timeout": "0s"}) is None  # zero disables it
    assert _route_timeout({"timeout": "2.500s"}) == 2.5


def test_retry_policies_as_envoy_applies_them() -> None:
    assert _retry_policy({}) == RetryPolicy()
    inbound = {"retry_on": "reset-before-request", "num_retries": 2}
    assert _retry_policy({"retry_policy": inbound}) == RetryPolicy()  # no try reached the app
    assert _retry_policy({"retry_policy": {"retry_on": "5xx"}}) == RetryPolicy(
        1, None, (RetryOn.SERVER_ERROR,), ()
    )  # num_retries defaults to 1
    istio_default = {
        "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
        "num_retries": 2,
        "retriable_status_codes": [503],
    }
    assert _retry_policy({"retry_policy": istio_default}) == RetryPolicy(
        2, None, (RetryOn.CONNECT_FAILURE, RetryOn.REFUSED_STREAM), (503,)
    )
    explicit = {"retry_on": "5xx,reset", "num_retries": 3, "per_try_timeout": "0.500s"}
    assert _retry_policy({"retry_policy": explicit}) == RetryPolicy(
        3, 0.5, (RetryOn.SERVER_ERROR, RetryOn.RESET), ()
    )


def test_go_times_and_envoy_error_states_are_read() -> None:
    then = datetime.datetime(2026, 12, 1, 22, 40, 0, 123456, tzinfo=datetime.UTC)
    assert _epoch("2026-12-01T22:40:00.123456789Z") == pytest.approx(then.timestamp())
    assert _epoch(None) == 0.0
    dump = {"a": [{"error_state": {"details": "Didn't find a registered implementation"}}]}
    assert list(_error_states(dump)) == ["Didn't find a registered implementation"]


def test_the_differential_compares_what_both_show() -> None:
    probe = _probe(to="echo")
    model = Observation(
        outcome="forwarded",
        backends={("default/echo", "v1"): 1.0},
        route="a",
        timeout=15.0,
        retries=RetryPolicy(),
    )
    same = Observation(
        status=200,
        backends={("default/echo", "v1"): 1.0},
        route="a",
        timeout=15.0,
        retries=RetryPolicy(),
        sampled=True,
    )
    assert compare(model, same, probe) == {}
    other = Observation(
        status=200,
        backends={("default/echo", "v2"): 1.0},
        route="a",
        timeout=None,
        retries=RetryPolicy(2, None, (RetryOn.CONNECT_FAILURE,), ()),
        sampled=True,
    )
    assert set(compare(model, other, probe)) == {"backends", "timeout", "retries"}
    assert compare(model, Observation(status=503), probe) == {"status": (200, 503)}


def test_every_port_runs_with_a_target_port_other_than_itself() -> None:
    from conformance.targets.istio_live import with_target_ports
    from meshspec.loader import load_texts

    text = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: echo}
spec:
  ports: [{port: 80}, {port: 8080, targetPort: 9090}]
"""
    loaded = load_texts([("echo.yaml", text)])
    assert loaded.spec is not None
    ports = with_target_ports(loaded.spec).services["default/echo"].spec.ports
    assert [(p.port, p.workload_port) for p in ports] == [(80, 10080), (8080, 9090)]

"""The consul-live target's own logic, without Consul: what it registers, how it
places instances on sidecars, how it reads Envoy, and what the differential
compares. The real thing runs in tests/realservers/test_consul_live*.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.case import Probe
from conformance.observation import Observation
from conformance.targets.consul_live import ConsulLiveTarget, instances_of
from conformance.targets.consul_live_agent import agent_config
from conformance.targets.consul_live_differential import compare
from conformance.targets.consul_live_mesh import (
    SYNC_SERVICE,
    ConsulLoopback,
    Instance,
    Sidecar,
    error_states,
    in_transition,
    listener_ports,
    registration,
    rejected,
    unready_clusters,
)
from conformance.targets.consul_live_programs import ConsulPrograms
from conformance.targets.discovery import get_target, live_installed, target_names
from conformance.targets.fault_app import FaultApp
from meshspec.loader import load_texts
from meshspec.registry import available_targets
from meshspec.spec import Spec

SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: echo}
spec:
  versions: [{name: v1}, {name: v3, labels: {app.kubernetes.io/track: canary}}]
"""


def _spec(text: str = SPEC) -> Spec:
    loaded = load_texts([("spec.yaml", text)])
    assert loaded.ok and loaded.spec is not None
    return loaded.spec


def _mesh() -> ConsulLoopback:
    """A mesh that starts nothing (its sidecars are filled in by hand)."""
    return ConsulLoopback(ConsulPrograms(Path("consul"), Path("envoy"), "1.22.5", "1.40.0"), Path())


def test_consul_live_is_a_target_beside_the_consul_model() -> None:
    # the consul adapter ships with meshspec: its absence is a broken install, not a skip
    assert "consul" in available_targets()
    names = target_names()
    assert "consul-live" in names
    assert get_target("consul-live").name == "consul-live"
    assert isinstance(get_target("consul-live"), ConsulLiveTarget)
    from conformance.targets.discovery import default_target_names

    defaults = default_target_names()
    if live_installed("consul-live"):
        assert defaults.index("consul-live") == defaults.index("consul") + 1
    else:
        assert "consul-live" not in defaults


def test_the_agent_listens_on_its_own_ports_and_nothing_else() -> None:
    hcl = agent_config({"http": 1, "grpc": 2, "server": 3, "serf_lan": 4}, Path("/d"))
    for line in ("http = 1", "grpc = 2", "server = 3", "serf_lan = 4"):
        assert line in hcl
    for off in ("serf_wan = -1", "https = -1", "grpc_tls = -1", "dns = -1"):
        assert off in hcl
    assert 'bind_addr = "127.0.0.1"' in hcl and 'client_addr = "127.0.0.1"' in hcl
    assert "connect { enabled = true }" in hcl


@pytest.mark.parametrize(
    ("version", "meta", "expected"),
    [
        (None, (), {}),
        ("v1", (), {"version": "v1"}),
        ("v3", (("track", "canary"),), {"track": "canary"}),
    ],
)
def test_a_registration_carries_the_version_labels_and_fast_checks(
    version: str | None, meta: tuple[tuple[str, str], ...], expected: dict[str, str]
) -> None:
    instance = Instance("slot-1", "echo", version, 8080, ("client", "echo"), meta)
    sidecar = Sidecar(instance, 21000, 19000, {"client": 20001, "echo": 20002}, sync_port=20003)
    reg = registration(instance, sidecar)
    assert reg["ID"] == "slot-1" and reg["Name"] == "echo" and reg["Port"] == 8080
    assert reg["Meta"] == expected
    proxy = reg["Connect"]["SidecarService"]
    assert proxy["Port"] == 21000
    checks = proxy["Checks"]
    assert {"Name": "public listener", "TCP": "127.0.0.1:21000", "Interval": "1s"} in checks
    assert {"Name": "application", "AliasService": "slot-1"} in checks
    bound = {u["DestinationName"]: u["LocalBindPort"] for u in proxy["Proxy"]["Upstreams"]}
    assert bound == {"client": 20001, "echo": 20002, SYNC_SERVICE: 20003}


def test_sidecars_are_reused_for_the_same_instance_then_for_any_other() -> None:
    mesh = _mesh()
    first = mesh.reuse_ids(["a", "b"])
    assert first == ["slot-1", "slot-2"]
    for sid in first:
        mesh.sidecars[sid] = Sidecar(Instance(sid, "x", None, 1), 1, 2)
    # "b" keeps its sidecar; "c" takes the one "a" no longer needs; "d" needs a new one.
    assert mesh.reuse_ids(["c", "b", "d"]) == ["slot-1", "slot-2", "slot-3"]


def test_listener_ports_stay_out_of_the_range_outgoing_connections_use() -> None:
    """A port Envoy binds seconds after it was chosen must not be one the kernel may
    give an outgoing connection meanwhile."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    avoid = set(listener_ports(20, "127.0.0.1"))
    ports = listener_ports(50, "127.0.0.1", avoid)
    assert len(set(ports)) == 50 and not avoid & set(ports)
    assert all(1024 <= p < low for p in ports)


def test_two_instances_that_ran_on_one_sidecar_in_turn_get_one_each() -> None:
    """Instance a ran on slot-1, then c did: both remember slot-1. Needed together, they
    must not share it (one of them would not run, and its callers would get 503)."""
    mesh = _mesh()
    assert mesh.reuse_ids(["a"]) == ["slot-1"]
    mesh.sidecars["slot-1"] = Sidecar(Instance("slot-1", "x", None, 1), 1, 2)
    assert mesh.reuse_ids(["c"]) == ["slot-1"]
    ids = mesh.reuse_ids(["a", "c", "b"])
    assert len(set(ids)) == 3 and ids[0] == "slot-1"


def test_instances_per_version_with_their_labels() -> None:
    mesh = _mesh()
    apps: dict[str, FaultApp] = {}
    try:
        running = instances_of(_spec(), mesh, apps, per_version=2)
    finally:
        for app in apps.values():
            app.stop()
    assert sorted(apps) == [
        "default/client#0",
        "default/client#1",
        "default/echo:v1#0",
        "default/echo:v1#1",
        "default/echo:v3#0",
        "default/echo:v3#1",
    ]
    echo = running["default/echo"]
    assert [(r.version, r.instance.meta_map) for r in echo] == [
        ("v1", {"version": "v1"}),
        ("v1", {"version": "v1"}),
        # Consul meta keys allow letters, digits, `-` and `_` only (MS4019)
        ("v3", {"app_kubernetes_io_track": "canary"}),
        ("v3", {"app_kubernetes_io_track": "canary"}),
    ]
    ids = [r.instance.id for rs in running.values() for r in rs]
    assert len(set(ids)) == len(ids) == 6
    assert all(r.instance.upstreams == ("client", "echo") for rs in running.values() for r in rs)


def test_envoy_counters_say_when_it_is_busy_or_refused_something() -> None:
    quiet = {"listener_manager.total_listeners_warming": 0, "cluster.x.update_rejected": 0}
    assert not in_transition(quiet) and rejected(quiet) == 0
    assert in_transition({"listener_manager.total_listeners_draining": 1})
    assert (
        rejected({"cluster.x.update_rejected": 2, "listener_manager.lds.update_rejected": 1}) == 3
    )
    dump = {
        "configs": [
            {
                "dynamic_listeners": [
                    {
                        "error_state": {
                            "failed_configuration": {"name": "api:127.0.0.1:1"},
                            "details": "cannot bind",
                        }
                    }
                ]
            }
        ]
    }
    assert error_states(dump) == ["api:127.0.0.1:1: cannot bind"]


#: Envoy admin `/clusters` as a caller's sidecar prints it (Consul cluster names)
CLUSTERS = """\
local_app::observability_name::local_app
local_app::127.0.0.1:3000::health_flags::healthy
v1.echo.default.dc1.internal.td.consul::observability_name::v1.echo.default.dc1.internal.td.consul
v1.echo.default.dc1.internal.td.consul::127.0.0.1:21001::cx_active::1
v1.echo.default.dc1.internal.td.consul::127.0.0.1:21001::health_flags::healthy
v1.echo.default.dc1.internal.td.consul::127.0.0.1:21002::health_flags::healthy
v2.echo.default.dc1.internal.td.consul::observability_name::v2.echo.default.dc1.internal.td.consul
v2.echo.default.dc1.internal.td.consul::127.0.0.1:21003::health_flags::/failed_eds_health
echo.default.dc1.internal.td.consul::127.0.0.1:21001::health_flags::healthy
bare.default.dc1.internal.td.consul::observability_name::bare.default.dc1.internal.td.consul
bare.default.dc1.internal.td.consul::default_priority::max_connections::1024
"""


@pytest.mark.parametrize(
    ("services", "unready"),
    [
        ({"echo"}, ["v2.echo.default.dc1.internal.td.consul"]),
        ({"bare"}, ["bare.default.dc1.internal.td.consul"]),
        (
            {"echo", "bare"},
            ["bare.default.dc1.internal.td.consul", "v2.echo.default.dc1.internal.td.consul"],
        ),
        ({"other", "local_app"}, []),
    ],
)
def test_clusters_without_healthy_hosts_are_found_by_service(
    services: set[str], unready: list[str]
) -> None:
    """A subset cluster with an unhealthy host and a cluster without any host are not
    ready; the application's own cluster and other services' clusters are not asked."""
    assert unready_clusters(CLUSTERS, services) == unready


def _probe(**extra: object) -> Probe:
    return Probe.model_validate(
        {"from": "client", "to": "echo", "path": "/a", "expect": {"status": 200}, **extra}
    )


@pytest.mark.parametrize(
    ("model", "live", "fields"),
    [
        (Observation(outcome="forwarded"), Observation(status=200), set()),
        (Observation(outcome="denied", status=403), Observation(status=200), {"status"}),
        (
            Observation(outcome="forwarded", backends={("default/echo", "v1"): 1.0}),
            Observation(status=200, backends={("default/echo", "v2"): 1.0}),
            {"backends"},
        ),
        (
            Observation(outcome="forwarded", backends={("default/echo", None): 1.0}),
            Observation(status=200, backends={("default/echo", "v2"): 1.0}),
            set(),
        ),
        (
            Observation(outcome="forwarded", headers={"x-env": "prod"}),
            Observation(status=200, headers={"x-env": "prod", "x-request-id": "1"}),
            set(),
        ),
        (
            Observation(outcome="forwarded", headers={"x-env": "prod"}),
            Observation(status=200, headers={"x-env": "dev"}),
            {"headers"},
        ),
    ],
)
def test_the_differential_compares_what_real_consul_shows(
    model: Observation, live: Observation, fields: set[str]
) -> None:
    assert set(compare(model, live, _probe())) == fields


def test_a_header_the_model_drops_must_not_reach_the_application() -> None:
    probe = _probe(headers={"x-debug": "1"})
    model = Observation(outcome="forwarded", headers={})
    assert set(compare(model, Observation(status=200, headers={"x-debug": "1"}), probe)) == {
        "headers"
    }
    assert not compare(model, Observation(status=200, headers={}), probe)

"""Real Istio on loopback: istiod configures real Envoy sidecars; requests go over real sockets.

These check the bring-up itself (routing, mTLS, authorization and rejections
of bad configuration, each observed on real requests), which the
``istio-live`` conformance target relies on.
"""

from __future__ import annotations

import http.client
import json
from collections import Counter
from collections.abc import Iterator

import pytest

from conformance.targets.fault_app import FaultApp
from conformance.targets.istio_live_mesh import (
    ConfigRejected,
    IstioLoopback,
    Workload,
    WorkloadPort,
)

pytestmark = pytest.mark.realservers

HOST = "echo.default.svc.cluster.local"


@pytest.fixture
def apps() -> Iterator[dict[str, FaultApp]]:
    started = {
        name: FaultApp(svc, version).start()
        for name, svc, version in (
            ("echo-v1", "default/echo", "v1"),
            ("echo-v2", "default/echo", "v2"),
            ("client", "default/client", None),
        )
    }
    try:
        yield started
    finally:
        for app in started.values():
            app.stop()


def _workloads(mesh: IstioLoopback, apps: dict[str, FaultApp]) -> list[Workload]:
    http_port = (WorkloadPort(port=80, target_port=8080, name="http-80", protocol="http"),)
    return [
        Workload(
            name=name,
            namespace="default",
            service=service,
            service_account=service,
            labels={"app": service, **({"version": version} if version else {})},
            address=mesh.addresses.address(i),
            ports=http_port,
            app_port=apps[name].port,
        )
        for i, (name, service, version) in enumerate(
            (("echo-v1", "echo", "v1"), ("echo-v2", "echo", "v2"), ("client", "client", None))
        )
    ]


def _get(
    address: str,
    port: int,
    path: str = "/",
    headers: dict[str, str] | None = None,
    host: str = HOST,
) -> tuple[int | None, dict[str, object]]:
    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        body = response.read()
    except (ConnectionError, http.client.HTTPException, TimeoutError):
        return None, {}
    finally:
        conn.close()
    try:
        data = json.loads(body)
    except ValueError:
        data = {"text": body.decode(errors="replace")}
    return response.status, data if isinstance(data, dict) else {}


SUBSETS = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "echo", "namespace": "default"},
    "spec": {
        "host": HOST,
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "v2", "labels": {"version": "v2"}},
        ],
    },
}
CANARY = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "echo", "namespace": "default"},
    "spec": {
        "hosts": [HOST],
        "http": [
            {
                "name": "canary",
                "match": [{"headers": {"x-canary": {"exact": "yes"}}}],
                "route": [{"destination": {"host": HOST, "subset": "v2"}}],
            },
            {"name": "rest", "route": [{"destination": {"host": HOST, "subset": "v1"}}]},
        ],
    },
}
STRICT = {
    "apiVersion": "security.istio.io/v1",
    "kind": "PeerAuthentication",
    "metadata": {"name": "default", "namespace": "default"},
    "spec": {"mtls": {"mode": "STRICT"}},
}
DENY_ADMIN = {
    "apiVersion": "security.istio.io/v1",
    "kind": "AuthorizationPolicy",
    "metadata": {"name": "deny-admin", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"app": "echo"}},
        "action": "DENY",
        "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}],
    },
}


def test_routes_mtls_and_authorization_on_real_requests(
    istio_loopback: IstioLoopback, apps: dict[str, FaultApp]
) -> None:
    mesh = istio_loopback
    workloads = _workloads(mesh, apps)
    v1, _, client = workloads
    mesh.set_workloads(workloads, [SUBSETS, CANARY])
    try:
        # header match to v2, the rest to v1, through the client's sidecar
        seen: Counter[tuple[int | None, object]] = Counter()
        for _ in range(5):
            status, body = _get(client.address, 80, headers={"x-canary": "yes"})
            seen[(status, body.get("version"))] += 1
            status, body = _get(client.address, 80)
            seen[(status, body.get("version"))] += 1
        assert seen == {(200, "v2"): 5, (200, "v1"): 5}
        # automatic mTLS: the server sidecar saw the client's SPIFFE identity
        _, body = _get(client.address, 80)
        request: dict[str, dict[str, str]] = body["request"]  # type: ignore[assignment]
        xfcc = request["headers"].get("x-forwarded-client-cert", "")
        assert "spiffe://cluster.local/ns/default/sa/client" in xfcc
        # PERMISSIVE by default: plaintext straight to the inbound listener is served
        assert _get(v1.address, 8080)[0] == 200

        mesh.set_config([SUBSETS, CANARY, STRICT, DENY_ADMIN])
        assert _get(v1.address, 8080)[0] is None  # plaintext refused under STRICT
        status, body = _get(client.address, 80, "/admin/x")
        assert status == 403
        assert "RBAC: access denied" in str(body.get("text"))
        assert _get(client.address, 80, "/public")[0] == 200
    finally:
        mesh.clear_workloads()
        mesh.set_config([])


def test_config_the_api_server_refuses_fails_with_its_text(istio_loopback: IstioLoopback) -> None:
    bad = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {
            "action": "DENY",
            "rules": [{"from": [{"source": {"principals": ["a"], "serviceAccounts": ["b"]}}]}],
        },
    }
    with pytest.raises(
        ConfigRejected, match="Cannot set serviceAccounts with namespaces or principals"
    ):
        istio_loopback.set_config([bad])


def test_config_envoy_refuses_fails_with_envoys_text(
    istio_loopback: IstioLoopback, apps: dict[str, FaultApp]
) -> None:
    """Stock Envoy has no `istio.stats` filter: istiod sends it, Envoy NACKs it."""
    mesh = istio_loopback
    mesh.set_workloads(_workloads(mesh, apps), [])
    unknown_filter = {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "stats", "namespace": "default"},
        "spec": {
            "configPatches": [
                {
                    "applyTo": "HTTP_FILTER",
                    "match": {
                        "listener": {
                            "filterChain": {
                                "filter": {"name": "envoy.filters.network.http_connection_manager"}
                            }
                        }
                    },
                    "patch": {
                        "operation": "INSERT_FIRST",
                        "value": {
                            "name": "istio.stats",
                            "typed_config": {
                                "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
                                "type_url": "type.googleapis.com/stats.PluginConfig",
                                "value": {},
                            },
                        },
                    },
                }
            ]
        },
    }
    try:
        with pytest.raises(ConfigRejected, match=r"stats\.PluginConfig|istio\.stats"):
            mesh.set_config([unknown_filter])
    finally:
        mesh.set_config([])
        mesh.clear_workloads()

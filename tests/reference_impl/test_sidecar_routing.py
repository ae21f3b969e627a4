"""Two or more real sidecars on 127.0.0.1 with real mTLS: routing, splits, admin."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from reference_impl.pki import Credentials
from reference_impl.proxy import Sidecar, SidecarConfig
from reference_impl.snapshot import SnapshotError
from tests.reference_impl.conftest import HttpClient, LoopbackMesh, build_snapshot, run_async
from tests.reference_impl.wire import PREAMBLE

pytestmark = pytest.mark.loopback

SPEC = (
    PREAMBLE
    + """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: ns}
spec:
  ports: [{port: 80}]
  versions: [{name: v1}, {name: v2}]
  routes:
    - name: canary
      matches: [{headers: [{name: x-canary, exact: "yes"}]}]
      backends: [{version: v2}]
    - name: split
      matches: [{path: {prefix: /api}}]
      backends: [{version: v1, weight: 80}, {version: v2, weight: 20}]
      requestHeaders: {set: {x-routed: split}}
"""
)


def test_weighted_split_header_route_and_404(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            await mesh.add("ns/api", "v1", "api-v1")
            await mesh.add("ns/api", "v2", "api-v2")
            mesh.publish()
            http = client.client()
            seen: Counter[str] = Counter()
            for i in range(300):
                answer = await http.request(f"/api/items/{i}", "api.ns")
                assert answer.status == 200
                seen[answer.json()["name"]] += 1
            assert abs(seen["api-v1"] / 300 - 0.8) < 0.07, seen
            echoed = answer.json()
            assert echoed["headers"]["x-routed"] == "split"
            assert echoed["headers"]["x-forwarded-client-cert"].endswith(
                "URI=spiffe://test.local/ns/ns/sa/client"
            )
            canary = await http.request("/anything", "API.NS", {"X-Canary": "yes"})
            assert (canary.status, canary.json()["name"]) == (200, "api-v2")
            missing = await http.request("/nothing", "api.ns")
            assert missing.status == 404
            assert missing.headers.get("x-meshspec-local-reply") == "1"
            unknown = await http.request("/", "nowhere.ns")
            assert unknown.status == 404
            await http.close()
        finally:
            await mesh.close()

    run_async(scenario())


def test_admin_ready_metrics_and_bad_snapshot(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            await mesh.add("ns/api", "v1", "api-v1")
            admin = HttpClient(client.sidecar.admin_port)
            assert (await admin.request("/ready", "admin")).status == 503
            mesh.publish(version=3)
            assert client.sidecar.ready and client.sidecar.snapshot_version == 3
            assert (await admin.request("/ready", "admin")).status == 200
            http = client.client()
            assert (await http.request("/api/x", "api")).status in (200, 503)
            with pytest.raises(SnapshotError):
                client.sidecar.apply_snapshot(build_snapshot("kind: Nope\n", (), 4))
            assert client.sidecar.snapshot_version == 3
            no_v2 = await http.request("/other", "api", {"x-canary": "yes"})
            assert (no_v2.status, no_v2.body) == (503, b"no healthy upstream\n")
            assert (await http.request("/api/x", "api", {"x-canary": "no"})).status in (200, 503)
            metrics = (await admin.request("/metrics", "admin")).body.decode()
            assert 'meshspec_sidecar_requests_total{backend="ns/api@v2",' in metrics
            assert "meshspec_sidecar_snapshot_version 3.0" in metrics
            await http.close()
            await admin.close()
        finally:
            await mesh.close()

    run_async(scenario())


def test_bodies_head_and_a_restarted_upstream(
    loopback_mesh: Callable[[str], LoopbackMesh], issue: Callable[[str, str], Credentials]
) -> None:
    """POST bodies travel; HEAD works; a pooled connection the peer closed is not reused."""

    async def scenario() -> None:
        mesh = loopback_mesh(SPEC.split("  routes:")[0])
        restarted: Sidecar | None = None
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api", "v1", "api-v1")
            mesh.publish()
            http = client.client()
            posted = await http.request("/other", "api.ns", method="POST", body=b"hello")
            assert posted.status == 200 and posted.json()["body"] == "hello"
            head = await http.request("/other", "api.ns", method="HEAD")
            assert head.status == 200 and head.body == b""
            port = api.sidecar.inbound_port
            await api.sidecar.stop()
            assert api.app is not None
            restarted = Sidecar(
                SidecarConfig("ns/api", "v1", "api-v1b", port, 0, "127.0.0.1", api.app.port, 0)
            )
            await restarted.start()
            creds = issue("ns", "api")
            restarted.set_credentials(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem)
            assert mesh.snapshot is not None
            restarted.apply_snapshot(mesh.snapshot)
            await asyncio.sleep(0.05)
            again = await http.request("/other", "api.ns")
            assert again.status == 200
            await http.close()
        finally:
            if restarted is not None:
                await restarted.stop()
            await mesh.close()

    run_async(scenario())


@pytest.mark.parametrize(
    "methods", [("GET",), ("HEAD",), ("GET", "HEAD", "POST", "GET"), ("HEAD", "HEAD", "GET")]
)
def test_a_pooled_connection_the_peer_closed_is_not_reused(
    loopback_mesh: Callable[[str], LoopbackMesh],
    issue: Callable[[str, str], Credentials],
    methods: tuple[str, ...],
) -> None:
    """Whatever the exchanges on it were, an idle upstream's close is noticed before reuse."""

    async def scenario() -> None:
        mesh = loopback_mesh(SPEC.split("  routes:")[0])
        restarted: Sidecar | None = None
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api", "v1", "api-v1")
            mesh.publish()
            http = client.client()
            for method in methods:
                answer = await http.request("/other", "api.ns", method=method, body=b"")
                assert answer.status == 200
                assert answer.body == b"" if method == "HEAD" else answer.json()["method"] == method
            port = api.sidecar.inbound_port
            await api.sidecar.stop()
            assert api.app is not None
            restarted = Sidecar(
                SidecarConfig("ns/api", "v1", "api-v1b", port, 0, "127.0.0.1", api.app.port, 0)
            )
            await restarted.start()
            creds = issue("ns", "api")
            restarted.set_credentials(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem)
            assert mesh.snapshot is not None
            restarted.apply_snapshot(mesh.snapshot)
            await asyncio.sleep(0.05)
            again = await http.request("/other", "api.ns")
            assert (again.status, again.headers.get("x-meshspec-local-reply")) == (200, None)
            await http.close()
        finally:
            if restarted is not None:
                await restarted.stop()
            await mesh.close()

    run_async(scenario())

"""One inbound listener per service port: the port a client connected to decides its mTLS mode.

The attack: a plaintext client connects to the STRICT port's listener and names
a PERMISSIVE port in Host, hoping the sidecar takes the mode from the header.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reference_impl.conftest import LoopbackMesh, run_async
from tests.reference_impl.wire import PREAMBLE, raw_exchange, request_bytes

pytestmark = pytest.mark.loopback

SPEC = (
    PREAMBLE
    + """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: ns}
spec:
  ports: [{port: 8080}, {port: 9091}]
  mtls: {mode: STRICT, ports: {9091: PERMISSIVE}}
"""
)

HOSTS = ["api.ns:9091", "anything:9091", "api.ns.svc.cluster.local:9091", "api.ns", "api.ns:8080"]


def test_host_naming_a_permissive_port_never_opens_a_strict_one(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api", ports=(9091,))
            mesh.publish()
            strict = api.sidecar.inbound_port
            permissive = dict(api.sidecar.inbound_ports)[9091]
            assert strict != permissive
            for host in HOSTS:
                lines = [f"Host: {host}"]
                refused = await raw_exchange(strict, request_bytes("/x", lines))
                assert refused.status is None, (host, refused.status)
                served = await raw_exchange(permissive, request_bytes("/x", lines))
                assert served.status == 200, (host, served.status)
            assert api.app is not None
            assert len(api.app.requests) == len(HOSTS)  # only the PERMISSIVE listener's
            # Inside the mesh, each port is reached on its own listener, over mTLS.
            http = client.client()
            for host in ("api.ns", "api.ns:8080", "api.ns:9091"):
                answer = await http.request("/in-mesh", host)
                assert answer.status == 200, host
                assert (
                    "URI=spiffe://test.local/ns/ns/sa/client"
                    in (answer.json()["headers"]["x-forwarded-client-cert"])
                )
            await http.close()
        finally:
            await mesh.close()

    run_async(scenario())

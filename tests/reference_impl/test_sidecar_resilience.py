"""Real sidecars under failure: outlier ejection, retries over dead endpoints, rotation."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from reference_impl.pki import CertificateAuthority, Credentials, client_context
from reference_impl.snapshot import Endpoint
from tests.reference_impl.conftest import (
    LoopbackMesh,
    build_snapshot,
    run_async,
    spiffe,
)
from tests.reference_impl.wire import PREAMBLE

pytestmark = pytest.mark.loopback


async def until(condition: Callable[[], bool], timeout: float) -> None:
    """Wait for `condition`; a timeout means the sidecars stopped answering."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


HEAD = (
    PREAMBLE
    + """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: ns}
spec:
"""
)

OUTLIER = (
    HEAD
    + """  resilience:
    outlierDetection: {consecutive5xxErrors: 3, baseEjectionTime: 30s, maxEjectionPercent: 50}
"""
)


def test_failing_instance_is_ejected(loopback_mesh: Callable[[str], LoopbackMesh]) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(OUTLIER)
        try:
            client = await mesh.add("ns/client")
            healthy = await mesh.add("ns/api", instance="api-a")
            failing = await mesh.add("ns/api", instance="api-b")
            assert healthy.app is not None and failing.app is not None
            failing.app.set_status(500)
            mesh.publish()
            http = client.client()
            statuses = Counter([(await http.request("/x", "api.ns")).status for _ in range(30)])
            await http.close()
            assert statuses == {500: 3, 200: 27}
            assert len(failing.app.requests) == 3
            ejections = client.sidecar.metrics.ejections.labels("ns/api", "api-b")._value.get()
            assert ejections == 1
        finally:
            await mesh.close()

    run_async(scenario())


RETRIES = (
    HEAD
    + """  routes:
    - name: r
      retries: {attempts: 2, retryOn: [connect-failure]}
"""
)


def test_retries_cover_a_dead_endpoint(loopback_mesh: Callable[[str], LoopbackMesh]) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(RETRIES)
        try:
            client = await mesh.add("ns/client")
            await mesh.add("ns/api", instance="api-a")
            dead = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
            dead_port = dead.sockets[0].getsockname()[1]
            dead.close()
            await dead.wait_closed()
            endpoints = (
                *mesh.endpoints(),
                Endpoint("ns/api", None, "api-dead", "127.0.0.1", dead_port),
            )
            for workload in mesh.workloads:
                workload.sidecar.apply_snapshot(build_snapshot(RETRIES, endpoints, 2))
            http = client.client()
            statuses = [(await http.request("/x", "api.ns")).status for _ in range(20)]
            assert statuses == [200] * 20
            retries = client.sidecar.metrics.retries.labels("ns/api")._value.get()
            # Round robin advances on retries too: after the first request, every first try
            # lands on the dead endpoint and its retry on the live one.
            assert retries == 19
            client.sidecar.apply_snapshot(build_snapshot(HEAD + "  {}\n", endpoints, 3))
            statuses = [(await http.request("/x", "api.ns")).status for _ in range(4)]
            assert sorted(statuses) == [200, 200, 503, 503]
            await http.close()
        finally:
            await mesh.close()

    run_async(scenario())


ROTATION = (
    HEAD
    + """  resilience:
    connectionLimits: {maxRequestsPerConnection: 3}
"""
)


STEPS, PER_STEP = 6, 20  # rotations; answers each must see before the next


def test_certificate_rotation_under_load_drops_nothing(
    loopback_mesh: Callable[[str], LoopbackMesh], ca: CertificateAuthority
) -> None:
    """Rotate both sides six times, moving to a new root half way; count every failure."""
    new_ca = CertificateAuthority.create("test.local")
    bundle = ca.cert_pem + new_ca.cert_pem

    async def scenario() -> None:
        mesh = loopback_mesh(ROTATION)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            stop = asyncio.Event()
            results: Counter[int] = Counter()
            step = [0]
            per_step: Counter[int] = Counter()  # answers completed under each step's certs

            async def load() -> None:
                http = client.client()
                while not stop.is_set():
                    status = (await http.request("/x", "api.ns")).status
                    results[status] += 1
                    per_step[step[0]] += 1
                await http.close()

            async def rotate() -> Credentials:
                last: Credentials | None = None
                for n in range(STEPS):
                    step[0] = n
                    authority = ca if n < STEPS // 2 else new_ca
                    for workload, account in ((client, "client"), (api, "api")):
                        creds = authority.issue(spiffe("ns", account))
                        workload.sidecar.set_credentials(creds.cert_pem, creds.key_pem, bundle)
                        if account == "api":
                            last = creds
                    # requests in flight across the switch, however slow the machine
                    await asyncio.sleep(0.15)
                    await until(lambda: per_step[step[0]] >= PER_STEP, 30.0)
                stop.set()
                assert last is not None
                return last

            workers = [asyncio.create_task(load()) for _ in range(4)]
            last_api = await rotate()
            await asyncio.gather(*workers)
            assert set(results) == {200}, results
            assert all(per_step[n] >= PER_STEP for n in range(STEPS)), per_step
            served = await server_certificate(api.sidecar.inbound_port, client_creds(new_ca))
            expected = x509.load_pem_x509_certificate(last_api.cert_pem)
            assert served == expected.public_bytes(serialization.Encoding.DER)
        finally:
            await mesh.close()

    run_async(scenario())


def client_creds(authority: CertificateAuthority) -> Credentials:
    return authority.issue(spiffe("ns", "client"))


async def server_certificate(port: int, creds: Credentials) -> bytes:
    """DER of the certificate a fresh TLS connection to `port` is served."""
    context = client_context(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem)
    _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=context), 5)
    ssl_object = writer.get_extra_info("ssl_object")
    assert isinstance(ssl_object, ssl.SSLObject)
    der = ssl_object.getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    assert der is not None
    return der

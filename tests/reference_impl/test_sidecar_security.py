"""Real sidecars, real TLS: mTLS modes, authorization, and path attacks on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

import pytest

from reference_impl.pki import CertificateAuthority, Credentials, client_context
from tests.reference_impl.conftest import HttpClient, LoopbackMesh, run_async, spiffe
from tests.reference_impl.wire import PREAMBLE

pytestmark = pytest.mark.loopback


def spec(mode: str) -> str:
    return (
        PREAMBLE
        + f"""
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {{name: intruder, namespace: ns}}
spec: {{}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {{name: api, namespace: ns}}
spec:
  mtls: {{mode: {mode}}}
  authorization:
    default: deny
    rules:
      - name: no-admin
        action: DENY
        to: {{paths: [{{prefix: /admin}}]}}
      - name: client-in
        action: ALLOW
        from: [{{services: [client]}}]
      - name: public
        action: ALLOW
        from: [{{unauthenticated: true}}]
        to: {{paths: [{{prefix: /public}}]}}
"""
    )


async def plaintext_status(port: int, target: str = "/public/x") -> int | None:
    """Status of a plaintext request straight to an inbound listener; None if refused."""
    http = HttpClient(port)
    try:
        return (await http.request(target, "api.ns")).status
    except (ConnectionError, OSError):
        return None
    finally:
        await http.close()


async def mtls_status(port: int, creds: Credentials, target: str) -> int | None:
    """A request over mTLS straight to an inbound listener (no client sidecar to clean up)."""
    context = client_context(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem)
    http = HttpClient(port, ssl_context=context)
    try:
        return (await http.request(target, "api.ns")).status
    except (ConnectionError, OSError, ssl.SSLError):
        return None
    finally:
        await http.close()


def test_strict_refuses_plaintext_and_foreign_certificates(
    loopback_mesh: Callable[[str], LoopbackMesh],
    issue: Callable[[str, str], Credentials],
    other_ca: CertificateAuthority,
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(spec("STRICT"))
        try:
            api = await mesh.add("ns/api")
            mesh.publish()
            port = api.sidecar.inbound_port
            assert await plaintext_status(port) is None
            foreign = other_ca.issue(spiffe("ns", "client"))
            mixed = Credentials(
                foreign.cert_pem,
                foreign.key_pem,
                issue("ns", "client").ca_bundle_pem,
                foreign.spiffe_id,
                foreign.not_after,
            )
            assert await mtls_status(port, mixed, "/data") is None
            assert await mtls_status(port, issue("ns", "client"), "/data") == 200
            failures = api.sidecar.metrics.tls_handshake_failures.labels("inbound")._value.get()
            assert failures >= 2
            assert api.app is not None
            assert [r["path"] for r in api.app.requests] == ["/data"]
        finally:
            await mesh.close()

    run_async(scenario())


def test_permissive_accepts_both_and_plaintext_has_no_identity(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(spec("PERMISSIVE"))
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            port = api.sidecar.inbound_port
            assert await plaintext_status(port, "/public/x") == 200
            assert await plaintext_status(port, "/data") == 403  # unauthenticated: not client-in
            http = client.client()
            answer = await http.request("/data", "api.ns")
            assert answer.status == 200
            assert (
                "URI=" + spiffe("ns", "client")
                in answer.json()["headers"]["x-forwarded-client-cert"]
            )
            await http.close()
            assert api.app is not None
            plain = [r for r in api.app.requests if r["path"] == "/public/x"]
            assert "x-forwarded-client-cert" not in plain[0]["headers"]
        finally:
            await mesh.close()

    run_async(scenario())


def test_spoofed_client_cert_header_is_dropped(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(spec("PERMISSIVE"))
        try:
            api = await mesh.add("ns/api")
            mesh.publish()
            http = HttpClient(api.sidecar.inbound_port)
            forged = {"x-forwarded-client-cert": "URI=" + spiffe("ns", "client")}
            answer = await http.request("/public/p", "api.ns", forged)
            assert answer.status == 200
            assert "x-forwarded-client-cert" not in answer.json()["headers"]
            await http.close()
        finally:
            await mesh.close()

    run_async(scenario())


def test_allow_and_deny_by_identity_and_path(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(spec("STRICT"))
        try:
            client = await mesh.add("ns/client")
            intruder = await mesh.add("ns/intruder")
            api = await mesh.add("ns/api")
            mesh.publish()
            ok = client.client()
            bad = intruder.client()
            assert (await ok.request("/data", "api.ns")).status == 200
            assert (await ok.request("/admin/users", "api.ns")).status == 403
            assert (await bad.request("/data", "api.ns")).status == 403
            assert (await bad.request("/public/x", "api.ns")).status == 403  # mTLS: authenticated
            await ok.close()
            await bad.close()
            assert api.app is not None
            assert [r["path"] for r in api.app.requests] == ["/data"]
        finally:
            await mesh.close()

    run_async(scenario())


ATTACKS = [
    "//admin",
    "/admin%2F",
    "/admin%2fsecrets",
    "/public/../admin",
    "/public/%2e%2e/admin",
    "/%2e%2e/admin",
    "/public/%2E%2E/admin",
    "/admin#x",
    "/public/x#/../../admin",
    "/public\\..\\admin",
    "/./admin",
    "/public/..%2Fadmin",
    "/%61dmin",
]


def test_path_attacks_never_reach_a_refused_path(
    loopback_mesh: Callable[[str], LoopbackMesh],
    issue: Callable[[str, str], Credentials],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(spec("PERMISSIVE"))
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            via_sidecar = client.client()
            port = api.sidecar.inbound_port
            for target in ATTACKS:
                through = await via_sidecar.request(target, "api.ns")
                assert through.status in (400, 403), (target, through.status)
                direct_tls = await mtls_status(port, issue("ns", "client"), target)
                assert direct_tls in (400, 403), (target, direct_tls)
                direct_plain = await plaintext_status(port, target)
                assert direct_plain in (400, 403), (target, direct_plain)
            await via_sidecar.close()
            assert api.app is not None
            assert api.app.requests == []
        finally:
            await mesh.close()

    run_async(scenario())


def test_a_server_with_another_identity_gets_no_request(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    """An endpoint of `api` whose certificate (from the mesh's own CA) names another
    service: the client's sidecar refuses it after the handshake, before any request
    byte, and answers its application 503."""

    async def scenario() -> None:
        mesh = loopback_mesh(spec("STRICT"))
        try:
            client = await mesh.add("ns/client")
            impostor = await mesh.add("ns/api", account="intruder")
            mesh.publish()
            http = client.client()
            answer = await http.request("/data", "api.ns")
            await http.close()
            assert answer.status == 503
            assert impostor.app is not None and impostor.app.requests == []
            failures = client.sidecar.metrics.tls_handshake_failures.labels("outbound")
            assert failures._value.get() >= 1
        finally:
            await mesh.close()

    run_async(scenario())


def test_a_stalled_handshake_is_cut_off(
    loopback_mesh: Callable[[str], LoopbackMesh], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that starts a handshake and never finishes it is closed at the
    handshake timeout and counted; the listener keeps serving."""
    from reference_impl.proxy import inbound

    monkeypatch.setattr(inbound, "HANDSHAKE_TIMEOUT", 0.3)

    async def scenario() -> None:
        mesh = loopback_mesh(spec("STRICT"))
        try:
            api = await mesh.add("ns/api")
            client = await mesh.add("ns/client")
            mesh.publish()
            port = api.sidecar.inbound_port
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello that never ends
            assert await asyncio.wait_for(reader.read(), 5.0) == b""
            writer.close()
            failures = api.sidecar.metrics.tls_handshake_failures.labels("inbound")._value.get()
            assert failures >= 1
            http = client.client()
            assert (await http.request("/data", "api.ns")).status == 200
            await http.close()
        finally:
            await mesh.close()

    run_async(scenario())

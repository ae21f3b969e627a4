"""Resource limits under abuse, over real sockets: each attack is bounded in count and time.

Timeouts are configured short here (fractions of a second) and every check
allows a wide margin, so a slow machine makes a test slower, never wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import pytest

from reference_impl.echo import EchoIdentity, start_echo
from reference_impl.proxy import Sidecar, SidecarConfig
from reference_impl.proxy.http1 import MAX_HEAD, MAX_HEADERS, ReadTimeouts
from tests.reference_impl.conftest import (
    HttpClient,
    LoopbackMesh,
    build_snapshot,
    run_async,
)
from tests.reference_impl.wire import PREAMBLE, raw_exchange, request_bytes

pytestmark = pytest.mark.loopback

SPEC = (
    PREAMBLE
    + """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: ns}
spec:
  mtls: {mode: PERMISSIVE}
  authorization:
    default: allow
    rules:
      - {name: no-admin, action: DENY, to: {paths: [{prefix: /admin}]}}
"""
)

SHORT = ReadTimeouts(idle=0.5, head=0.5, request=1.0)
#: how long a bounded attack may take before the test calls it unbounded
MARGIN = 8.0


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the peer sent until it closed; TimeoutError if it did not close in time."""
    data = bytearray()
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(65536):
            data.extend(chunk)
    return bytes(data)


def test_oversized_heads_get_431(loopback_mesh: Callable[[str], LoopbackMesh]) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            for port in (api.sidecar.inbound_port, client.sidecar.outbound_port):
                big = ["Host: api.ns", "x-big: " + "a" * (MAX_HEAD + 1)]
                assert (await raw_exchange(port, request_bytes("/", big))).status == 431
                many = ["Host: api.ns", *(f"x-h{i}: v" for i in range(MAX_HEADERS + 1))]
                assert (await raw_exchange(port, request_bytes("/", many))).status == 431
                long_target = "/" + "a" * (MAX_HEAD + 1)
                answer = await raw_exchange(port, request_bytes(long_target, ["Host: api.ns"]))
                assert answer.status == 431
                fine = ["Host: api.ns", *(f"x-h{i}: v" for i in range(MAX_HEADERS - 10))]
                assert (await raw_exchange(port, request_bytes("/", fine))).status == 200
            assert api.app is not None and len(api.app.requests) == 2
        finally:
            await mesh.close()

    run_async(scenario())


def test_an_endless_header_line_is_cut_off(loopback_mesh: Callable[[str], LoopbackMesh]) -> None:
    """15 MiB in one header line never ending: refused once the head passes its limit."""

    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            api = await mesh.add("ns/api")
            mesh.publish()
            reader, writer = await asyncio.open_connection("127.0.0.1", api.sidecar.inbound_port)
            answered = asyncio.ensure_future(closed_within(reader, MARGIN))
            writer.write(b"GET / HTTP/1.1\r\nHost: api.ns\r\nx-big: ")
            sent = 0
            with contextlib.suppress(ConnectionError):
                while sent < 15 * 1024 * 1024 and not answered.done():
                    writer.write(b"a" * 65536)
                    await writer.drain()
                    sent += 65536
            answer = await answered
            assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
            assert sent < 15 * 1024 * 1024  # cut off long before the end
            writer.close()
        finally:
            await mesh.close()

    run_async(scenario())


def test_slow_heads_and_idle_connections_are_closed(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client", timeouts=SHORT)
            api = await mesh.add("ns/api", timeouts=SHORT)
            mesh.publish()
            for port in (api.sidecar.inbound_port, client.sidecar.outbound_port):
                # Slowloris: a byte every 0.1 s never finishes the head.
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                began = time.monotonic()
                writer.write(b"GET / HTTP/1.1\r\nHost: api.ns\r\n")

                async def trickle(w: asyncio.StreamWriter = writer) -> None:
                    with contextlib.suppress(ConnectionError, OSError):
                        for _ in range(200):
                            w.write(b"x")
                            await w.drain()
                            await asyncio.sleep(0.1)

                dripping = asyncio.ensure_future(trickle())
                answer = await closed_within(reader, MARGIN)
                dripping.cancel()
                assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
                assert time.monotonic() - began < MARGIN
                writer.close()
                # Idle keep-alive: one request, then nothing.
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request_bytes("/", ["Host: api.ns"]))
                answer = await closed_within(reader, MARGIN)
                assert answer.startswith(b"HTTP/1.1 200 ")
                writer.close()
                # A body that never arrives.
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                head = ["Host: api.ns", "Content-Length: 100"]
                writer.write(request_bytes("/upload", head, "POST", b"partial"))
                answer = await closed_within(reader, MARGIN)
                assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
                writer.close()
        finally:
            await mesh.close()

    run_async(scenario())


def test_a_refused_request_is_answered_before_its_body(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            api = await mesh.add("ns/api")
            mesh.publish()
            reader, writer = await asyncio.open_connection("127.0.0.1", api.sidecar.inbound_port)
            head = ["Host: api.ns", f"Content-Length: {15 * 1024 * 1024}"]
            writer.write(request_bytes("/admin", head, "POST"))  # the head alone
            answer = await closed_within(reader, MARGIN)
            assert answer.startswith(b"HTTP/1.1 403 "), answer[:80]
            assert b"connection: close" in answer.lower()
            writer.close()
            assert api.app is not None and api.app.requests == []
        finally:
            await mesh.close()

    run_async(scenario())


def test_connections_beyond_the_cap_are_refused_and_logged(
    loopback_mesh: Callable[[str], LoopbackMesh], caplog: pytest.LogCaptureFixture
) -> None:
    cap = 20

    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        held: list[asyncio.StreamWriter] = []
        try:
            api = await mesh.add("ns/api", max_connections=cap)
            mesh.publish()
            port = api.sidecar.inbound_port
            readers = []
            for _ in range(cap * 2):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                readers.append(reader)
                held.append(writer)
            refused = 0
            for reader in readers[cap:]:
                with contextlib.suppress(ConnectionError):
                    await closed_within(reader, MARGIN)
                refused += 1
            assert refused == cap
            # The admin port still answers, and says how many were refused.
            admin = HttpClient(api.sidecar.admin_port)
            assert (await admin.request("/ready", "admin")).status == 200
            metrics = (await admin.request("/metrics", "admin")).body.decode()
            await admin.close()
            assert 'meshspec_sidecar_refused_connections_total{listener="inbound"}' in metrics
            # Freed slots are usable again.
            for writer in held[:cap]:
                writer.close()
            await asyncio.sleep(0.2)
            answer = await raw_exchange(port, request_bytes("/", ["Host: api.ns"]))
            assert answer.status == 200
        finally:
            for writer in held:
                writer.close()
            await mesh.close()

    with caplog.at_level(logging.WARNING, logger="meshspec.sidecar"):
        run_async(scenario())
    assert any("listener inbound is full" in r.getMessage() for r in caplog.records)


def test_head_replies_carry_no_body_and_leave_the_connection_usable(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            for port in (api.sidecar.inbound_port, client.sidecar.outbound_port):
                http = HttpClient(port)
                # A local reply (403) to HEAD, then a GET on the same connection.
                await http.connect()
                http._writer.write(request_bytes("/admin", ["Host: api.ns"], "HEAD"))
                http._writer.write(request_bytes("/ok", ["Host: api.ns"]))
                reader = http._reader
                data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), MARGIN)
                assert data.startswith(b"HTTP/1.1 403 ")
                data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), MARGIN)
                assert data.startswith(b"HTTP/1.1 200 "), data[:80]
                await http.close()
        finally:
            await mesh.close()

    run_async(scenario())


def test_the_echo_apps_head_answer_does_not_poison_a_pooled_connection() -> None:
    async def scenario() -> None:
        from reference_impl.pki import CertificateAuthority

        ca = CertificateAuthority.create("test.local")
        echo = await start_echo(EchoIdentity("ns/api", None, "api-0"), "127.0.0.1", 0)
        app_port = echo.sockets[0].getsockname()[1]
        server = Sidecar(
            SidecarConfig("ns/api", None, "api-0", 0, 0, "127.0.0.1", app_port, 0, seed=1)
        )
        client = Sidecar(SidecarConfig("ns/client", None, "c-0", 0, 0, "127.0.0.1", 1, 0))
        try:
            for sidecar, account in ((server, "api"), (client, "client")):
                await sidecar.start()
                creds = ca.issue(f"spiffe://test.local/ns/ns/sa/{account}")
                sidecar.set_credentials(creds.cert_pem, creds.key_pem, creds.ca_bundle_pem)
            snapshot = build_snapshot(SPEC, (server.endpoint(),))
            for sidecar in (server, client):
                sidecar.apply_snapshot(snapshot)
            http = HttpClient(client.outbound_port)
            for method in ("HEAD", "GET", "HEAD", "HEAD", "GET", "GET"):
                answer = await http.request("/x", "api.ns", method=method)
                assert answer.status == 200, (method, answer)
                if method == "GET":
                    assert answer.json()["instance"] == "api-0"
                else:
                    assert answer.body == b""
            await http.close()
        finally:
            await client.stop()
            await server.stop()
            echo.close()

    run_async(scenario())

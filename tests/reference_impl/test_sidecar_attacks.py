"""Attacks on the data plane, reproduced over real sockets on 127.0.0.1: each must fail.

Header values that dodge a DENY, trailers posing as headers, two Host headers,
a Host that only ends like a service, and the mesh's own headers forged by a client.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reference_impl.conftest import LoopbackMesh, Workload, run_async
from tests.reference_impl.wire import PREAMBLE, raw_exchange, request_bytes

pytestmark = pytest.mark.loopback

SPEC = (
    PREAMBLE
    + """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: admin-api, namespace: ns}
spec: {}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: ns}
spec:
  mtls: {mode: PERMISSIVE}
  authorization:
    default: allow
    rules:
      - name: no-debug
        action: DENY
        to: {headers: [{name: x-debug, exact: "1"}]}
      - name: no-admin
        action: DENY
        to: {paths: [{prefix: /admin}]}
      - name: admins-only
        action: DENY
        to: {paths: [{prefix: /ops}]}
        from: [{unauthenticated: true}]
"""
)

#: each a DENY on x-debug exact "1" must catch: (description, header lines)
DODGES = [
    ("trailing space", ["x-debug: 1 "]),
    ("trailing tab", ["x-debug: 1\t"]),
    ("leading tab", ["x-debug:\t1"]),
    ("sent twice", ["x-debug: 1", "x-debug: 1"]),
    ("twice, padded", ["x-debug: 0 ", "X-Debug:  1  "]),
    ("one list line", ["x-debug: 0, 1"]),
    ("list without space", ["x-debug: 1,0"]),
]


def app_of(workload: Workload) -> list[dict[str, object]]:
    assert workload.app is not None
    return workload.app.requests


def test_a_header_deny_cannot_be_dodged(loopback_mesh: Callable[[str], LoopbackMesh]) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            for what, lines in DODGES:
                for port, host in (
                    (api.sidecar.inbound_port, "api.ns"),  # plaintext, straight in
                    (client.sidecar.outbound_port, "api.ns"),  # through the client's sidecar
                ):
                    sent = request_bytes("/data", [f"Host: {host}", *lines])
                    answer = await raw_exchange(port, sent)
                    assert answer.status == 403, (what, port, answer.status)
            assert app_of(api) == []
            # The same rule still lets other values through.
            for lines in (["x-debug: 0"], ["x-debug: 10"], ["x-debug: 0", "x-debug: 2"]):
                sent = request_bytes("/data", ["Host: api.ns", *lines])
                answer = await raw_exchange(api.sidecar.inbound_port, sent)
                assert answer.status == 200, lines
        finally:
            await mesh.close()

    run_async(scenario())


def test_a_remembered_allow_does_not_let_a_denied_header_through(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    """The sidecars remember answers under what the rules read, not under the whole
    request. An attacker first has the same request allowed (no x-debug, or x-debug: 0),
    with a request ID that changes every time, then sends each dodge with a new ID: every
    one is refused, through the client's sidecar and straight in, and each request that
    does get through reaches the app with its own ID."""

    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            ids = iter(range(1_000_000))
            for port in (api.sidecar.inbound_port, client.sidecar.outbound_port):
                for what, lines in [*DODGES, ("upper case", ["X-DEBUG: 1"])]:
                    for allowed in ([], ["x-debug: 0"], ["X-Debug: 0"]):
                        for extra, status in ((allowed, 200), (lines, 403)):
                            rid = f"x-request-id: {next(ids)}"
                            sent = request_bytes("/data", ["Host: api.ns", rid, *extra])
                            answer = await raw_exchange(port, sent)
                            assert answer.status == status, (what, port, extra, answer.status)
            seen = app_of(api)
            assert len(seen) == 2 * (len(DODGES) + 1) * 3
            sent_ids = []
            for request in seen:
                lines = request["lines"]
                assert isinstance(lines, list)
                assert all(v != "1" for n, v in lines if n.lower() == "x-debug"), lines
                sent_ids.extend(v for n, v in lines if n.lower() == "x-request-id")
            assert len(set(sent_ids)) == len(seen)  # each its own, none remembered
        finally:
            await mesh.close()

    run_async(scenario())


def test_trailers_never_become_headers(loopback_mesh: Callable[[str], LoopbackMesh]) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            api = await mesh.add("ns/api")
            mesh.publish()
            body = b"3\r\nabc\r\n0\r\nHost: evil.example\r\nx-debug: 0\r\nx-smuggled: 1\r\n\r\n"
            sent = request_bytes(
                "/upload", ["Host: api.ns", "Transfer-Encoding: chunked"], "POST", body
            )
            answer = await raw_exchange(api.sidecar.inbound_port, sent)
            assert answer.status == 200
            (seen,) = app_of(api)
            lines = seen["lines"]
            assert isinstance(lines, list)
            names = [name for name, _ in lines]
            assert names.count("host") == 1 and "x-smuggled" not in names, lines
            assert dict(lines)["host"] == "api.ns"
            assert seen["body"] == "abc"
            # A trailer cannot trip (or satisfy) authorization either: x-debug: 1 trails.
            body = b"1\r\na\r\n0\r\nx-debug: 1\r\n\r\n"
            sent = request_bytes("/t", ["Host: api.ns", "Transfer-Encoding: chunked"], "POST", body)
            assert (await raw_exchange(api.sidecar.inbound_port, sent)).status == 200
        finally:
            await mesh.close()

    run_async(scenario())


def test_two_host_headers_are_refused(loopback_mesh: Callable[[str], LoopbackMesh]) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            for port in (api.sidecar.inbound_port, client.sidecar.outbound_port):
                for hosts in (["Host: api.ns", "Host: evil.example"], ["Host: api.ns"] * 2):
                    answer = await raw_exchange(port, request_bytes("/data", hosts))
                    assert answer.status == 400, (port, hosts)
                answer = await raw_exchange(port, request_bytes("/data", []))
                assert answer.status == 400  # HTTP/1.1 without Host
            assert app_of(api) == []
        finally:
            await mesh.close()

    run_async(scenario())


@pytest.mark.parametrize(
    "host",
    [
        "admin-api.evil.example",
        "admin-api.ns.evil.example",
        "admin-api.ns.svc.evil.example",
        "admin-api.ns.svc.cluster.local.evil.example",
        "admin-api.nowhere",
    ],
)
def test_a_host_that_only_starts_like_a_service_goes_nowhere(
    loopback_mesh: Callable[[str], LoopbackMesh], host: str
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            admin = await mesh.add("ns/admin-api")
            mesh.publish()
            port = client.sidecar.outbound_port
            answer = await raw_exchange(port, request_bytes("/", [f"Host: {host}"]))
            assert answer.status == 404, answer
            assert app_of(admin) == []
            for real in ("admin-api", "admin-api.ns", "ADMIN-API.ns.svc.cluster.local."):
                answer = await raw_exchange(port, request_bytes("/", [f"Host: {real}"]))
                assert answer.status == 200, real
        finally:
            await mesh.close()

    run_async(scenario())


def test_mesh_headers_from_a_client_never_reach_the_app(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            mesh.publish()
            forged = ["X-Meshspec-Route: admin", "x-meshspec-local-reply: 1", "x-meshspec-x: y"]
            for port in (api.sidecar.inbound_port, client.sidecar.outbound_port):
                sent = request_bytes("/data", ["Host: api.ns", *forged])
                assert (await raw_exchange(port, sent)).status == 200
            assert len(app_of(api)) == 2
            for seen in app_of(api):
                headers = seen["headers"]
                assert isinstance(headers, dict)
                assert not [n for n in headers if n.startswith("x-meshspec-")], headers
        finally:
            await mesh.close()

    run_async(scenario())

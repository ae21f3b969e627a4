"""The outbound sidecar tells its application which route and timeout applied."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reference_impl.conftest import HttpClient, LoopbackMesh, run_async
from tests.reference_impl.wire import PREAMBLE

pytestmark = pytest.mark.loopback

SPEC = (
    PREAMBLE
    + """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: ns}
spec:
  routes:
    - {name: quick, matches: [{path: {prefix: /quick}}], timeout: 250ms}
    - {name: unbounded, matches: [{path: {prefix: /unbounded}}], timeout: 0s}
    - {name: only-get, matches: [{path: {prefix: /get}, method: GET}]}
    - {name: fallback, matches: [{path: {prefix: /}, method: POST}]}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: plain, namespace: ns}
spec: {}
"""
)

#: (method, path, host) -> (status, x-meshspec-route, x-meshspec-timeout)
TABLE: list[tuple[str, str, str, tuple[int, str | None, str | None]]] = [
    ("GET", "/quick/a", "api.ns", (200, "quick", "250ms")),
    ("GET", "/unbounded", "api.ns", (200, "unbounded", "none")),
    ("GET", "/get/x", "api.ns", (200, "only-get", "15s")),
    ("POST", "/get/x", "api.ns", (200, "fallback", "15s")),
    ("GET", "/nothing", "api.ns", (404, None, None)),
    ("GET", "/", "plain.ns", (200, None, "15s")),
]


def test_answers_name_the_route_and_timeout(
    loopback_mesh: Callable[[str], LoopbackMesh],
) -> None:
    async def scenario() -> None:
        mesh = loopback_mesh(SPEC)
        try:
            client = await mesh.add("ns/client")
            api = await mesh.add("ns/api")
            await mesh.add("ns/plain")
            mesh.publish()
            http = client.client()
            try:
                await _check_table(http)
            finally:
                await http.close()
            # the application behind the sidecar never sees them: they are for the caller
            assert api.app is not None
            seen = {name for request in api.app.requests for name in request["headers"]}
            assert api.app.requests and not seen & {"x-meshspec-route", "x-meshspec-timeout"}
        finally:
            await mesh.close()

    run_async(scenario())


async def _check_table(http: HttpClient) -> None:
    for method, path, host, want in TABLE:
        answer = await http.request(path, host, method=method)
        got = (
            answer.status,
            answer.headers.get("x-meshspec-route"),
            answer.headers.get("x-meshspec-timeout"),
        )
        assert got == want, (method, path, host, answer.body)

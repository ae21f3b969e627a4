"""Routing: neutral precedence becomes Istio's first-match order; segment-aware prefixes."""

from __future__ import annotations

import pytest

from tests.adapters.validator import assert_compiles, compile_fragment

HEAD = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  versions: [{name: v1}, {name: v2}]
"""

ORDERED = (
    HEAD
    + """
  routes:
    - name: anything
      backends: [{version: v1}]
    - name: api
      matches:
        - path: {regex: "/api/v[0-9]+"}
        - path: {prefix: /api}
          method: POST
        - path: {exact: /api/health}
      backends: [{version: v2}]
"""
)

ISTIO_ORDERED = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.default.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: api.2
      match: [{uri: {exact: /api/health}}]
      route: [{destination: {host: web.default.svc.cluster.local, subset: v2}}]
      timeout: 15s
      retries: {attempts: 0}
    - name: api.1
      match:
        - {uri: {exact: /api}, method: {exact: POST}}
        - {uri: {prefix: /api/}, method: {exact: POST}}
      route: [{destination: {host: web.default.svc.cluster.local, subset: v2}}]
      timeout: 15s
      retries: {attempts: 0}
    - name: anything
      route: [{destination: {host: web.default.svc.cluster.local, subset: v1}}]
      timeout: 15s
      retries: {attempts: 0}
    - name: api.0
      match: [{uri: {regex: "/api/v[0-9]+"}}]
      route: [{destination: {host: web.default.svc.cluster.local, subset: v2}}]
      timeout: 15s
      retries: {attempts: 0}
"""

HEADERS_QUERY = (
    HEAD
    + """
  routes:
    - name: pinned
      matches:
        - path: {prefix: /}
          headers:
            - {name: X-User, exact: jason}
            - {name: x-debug, present: true}
            - {name: x-tier, prefix: gold}
            - {name: x-id, regex: "[a-f0-9]+"}
          queryParams:
            - {name: beta, present: true}
            - {name: lang, exact: en}
            - {name: page, regex: "[0-9]+"}
      backends: [{version: v2}]
"""
)

ISTIO_HEADERS_QUERY = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.default.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: pinned.0
      match:
        - uri: {prefix: /}
          headers:
            x-user: {exact: jason}
            x-debug: {}
            x-tier: {prefix: gold}
            x-id: {regex: "[a-f0-9]+"}
          queryParams:
            beta: {regex: ".*"}
            lang: {exact: en}
            page: {regex: "[0-9]+"}
      route: [{destination: {host: web.default.svc.cluster.local, subset: v2}}]
      timeout: 15s
      retries: {attempts: 0}
"""

NO_ROUTES = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: plain, namespace: shop}
"""

ISTIO_NO_ROUTES = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: plain, namespace: shop}
spec:
  hosts: [plain.shop.svc.cluster.local]
  gateways: [mesh]
  http:
    - route: [{destination: {host: plain.shop.svc.cluster.local}}]
      timeout: 15s
      retries: {attempts: 0}
"""

TCP_ONLY = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: db}
spec:
  ports: [{port: 5432, protocol: tcp}]
"""

HEADER_EDITS = (
    HEAD
    + """
  routes:
    - name: edit
      backends: [{version: v1}]
      requestHeaders:
        set: {x-env: prod}
        add: {x-trace: "on"}
        remove: [x-internal]
"""
)

ISTIO_HEADER_EDITS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.default.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: edit
      route: [{destination: {host: web.default.svc.cluster.local, subset: v1}}]
      timeout: 15s
      retries: {attempts: 0}
      headers:
        request:
          set: {x-env: prod}
          add: {x-trace: "on"}
          remove: [x-internal]
"""


@pytest.mark.parametrize(
    ("fragment", "istio"),
    [
        pytest.param(ORDERED, ISTIO_ORDERED, id="precedence-and-segment-prefix"),
        pytest.param(HEADERS_QUERY, ISTIO_HEADERS_QUERY, id="headers-and-query"),
        pytest.param(NO_ROUTES, ISTIO_NO_ROUTES, id="no-routes-keeps-neutral-defaults"),
        pytest.param(HEADER_EDITS, ISTIO_HEADER_EDITS, id="request-header-edits"),
    ],
)
def test_routes(fragment: str, istio: str) -> None:
    assert_compiles(fragment, write={"istio": istio})


def test_tcp_only_service_gets_no_virtual_service() -> None:
    kinds = [r["kind"] for r in compile_fragment(TCP_ONLY, "istio").resources]
    assert "VirtualService" not in kinds
    assert "DestinationRule" in kinds


def test_route_paths_note_the_needed_path_normalization() -> None:
    assert_compiles(ORDERED, write={"istio": ISTIO_ORDERED}, diagnostics={"istio": ["MS1001"]})
    assert_compiles(NO_ROUTES, write={"istio": ISTIO_NO_ROUTES}, diagnostics={"istio": []})


def test_removing_a_header_that_is_also_set_is_reported() -> None:
    clash = HEADER_EDITS.replace("remove: [x-internal]", "remove: [X-Env]")
    expected = ISTIO_HEADER_EDITS.replace("remove: [x-internal]", "remove: [X-Env]")
    assert_compiles(clash, write={"istio": expected}, diagnostics={"istio": ["MS1020"]})

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


GAMMA_ORDERED = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs: [{group: "", kind: Service, name: web-v1, port: 80, weight: 1}]
      timeouts: {request: 15s}
    - matches:
        - path: {type: RegularExpression, value: "/api/v[0-9]+"}
        - {path: {type: PathPrefix, value: /api}, method: POST}
        - path: {type: Exact, value: /api/health}
      backendRefs: [{group: "", kind: Service, name: web-v2, port: 80, weight: 1}]
      timeouts: {request: 15s}
"""

# Linkerd's proxy ranks paths by matched length only (a regex counts the whole path) and
# the method after headers: rules come in the spec's order, and where Linkerd would pick
# the less specific match the meet of the two joins the preferred route first (rules 2
# and 4: `anything` keeps GET /api/v1 from the regex, `api` keeps POST /api/v1).
LINKERD_ORDERED = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules:
    - matches: [{path: {type: Exact, value: /api/health}}]
      backendRefs: [{group: "", kind: Service, name: web-v2, port: 80, weight: 1}]
      timeouts: {request: 15s}
    - matches: [{path: {type: RegularExpression, value: "/api/v[0-9]+"}, method: POST}]
      backendRefs: [{group: "", kind: Service, name: web-v2, port: 80, weight: 1}]
      timeouts: {request: 15s}
    - matches: [{path: {type: PathPrefix, value: /api}, method: POST}]
      backendRefs: [{group: "", kind: Service, name: web-v2, port: 80, weight: 1}]
      timeouts: {request: 15s}
    - matches: [{path: {type: RegularExpression, value: "/api/v[0-9]+"}}]
      backendRefs: [{group: "", kind: Service, name: web-v1, port: 80, weight: 1}]
      timeouts: {request: 15s}
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs: [{group: "", kind: Service, name: web-v1, port: 80, weight: 1}]
      timeouts: {request: 15s}
    - matches: [{path: {type: RegularExpression, value: "/api/v[0-9]+"}}]
      backendRefs: [{group: "", kind: Service, name: web-v2, port: 80, weight: 1}]
      timeouts: {request: 15s}
"""

GAMMA_HEADERS_QUERY = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules:
    - matches:
        - path: {type: PathPrefix, value: /}
          headers:
            - {type: Exact, name: x-user, value: jason}
            - {type: RegularExpression, name: x-debug, value: ".*"}
            - {type: RegularExpression, name: x-tier, value: "gold.*"}
            - {type: RegularExpression, name: x-id, value: "[a-f0-9]+"}
          queryParams:
            - {type: RegularExpression, name: beta, value: ".*"}
            - {type: Exact, name: lang, value: en}
            - {type: RegularExpression, name: page, value: "[0-9]+"}
      backendRefs: [{group: "", kind: Service, name: web-v2, port: 80, weight: 1}]
      timeouts: {request: 15s}
"""

GAMMA_NO_ROUTES = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: plain, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: plain}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs: [{group: "", kind: Service, name: plain, port: 80, weight: 1}]
      timeouts: {request: 15s}
"""

GAMMA_HEADER_EDITS = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{name: x-env, value: prod}]
            add: [{name: x-trace, value: "on"}]
            remove: [x-internal]
      backendRefs: [{group: "", kind: Service, name: web-v1, port: 80, weight: 1}]
      timeouts: {request: 15s}
"""


@pytest.mark.parametrize(
    ("fragment", "istio", "linkerd", "gateway_api"),
    [
        pytest.param(ORDERED, ISTIO_ORDERED, LINKERD_ORDERED, GAMMA_ORDERED, id="precedence"),
        pytest.param(
            HEADERS_QUERY,
            ISTIO_HEADERS_QUERY,
            GAMMA_HEADERS_QUERY,
            GAMMA_HEADERS_QUERY,
            id="headers-and-query",
        ),
        pytest.param(NO_ROUTES, ISTIO_NO_ROUTES, GAMMA_NO_ROUTES, GAMMA_NO_ROUTES, id="no-routes"),
        pytest.param(
            HEADER_EDITS, ISTIO_HEADER_EDITS, GAMMA_HEADER_EDITS, GAMMA_HEADER_EDITS, id="edits"
        ),
    ],
)
def test_routes(fragment: str, istio: str, linkerd: str, gateway_api: str) -> None:
    """One fragment, every target's routes side by side."""
    assert_compiles(
        fragment, write={"istio": istio, "linkerd": linkerd, "gateway-api": gateway_api}
    )


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


def test_gamma_targets_note_what_they_leave_to_the_mesh() -> None:
    """Regex ranking is the implementation's (gateway-api); STRICT becomes authorization
    whose refusal is a 403 (linkerd)."""
    assert_compiles(
        ORDERED,
        write={"gateway-api": GAMMA_ORDERED},
        diagnostics={"gateway-api": ["MS6001", "MS6005"]},
    )
    assert_compiles(
        ORDERED, write={"linkerd": LINKERD_ORDERED}, diagnostics={"linkerd": ["MS2007"]}
    )

"""Weighted splits across versions and services: relative integer weights, subsets."""

from __future__ import annotations

import pytest

from tests.adapters.validator import assert_compiles

SPLIT = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  versions:
    - {name: v1}
    - {name: v2, labels: {track: canary}}
  routes:
    - name: canary
      backends:
        - {version: v1, weight: 90}
        - {version: v2, weight: 10}
        - {service: legacy, weight: 0}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: legacy, namespace: shop}
"""

ISTIO_SPLIT = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart, namespace: shop}
spec:
  hosts: [cart.shop.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: canary
      route:
        - {destination: {host: cart.shop.svc.cluster.local, subset: v1}, weight: 90}
        - {destination: {host: cart.shop.svc.cluster.local, subset: v2}, weight: 10}
        - {destination: {host: legacy.shop.svc.cluster.local}, weight: 0}
      timeout: 15s
      retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: legacy, namespace: shop}
spec:
  hosts: [legacy.shop.svc.cluster.local]
  gateways: [mesh]
  http:
    - route: [{destination: {host: legacy.shop.svc.cluster.local}}]
      timeout: 15s
      retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: shop}
spec:
  host: cart.shop.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {track: canary}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: legacy, namespace: shop}
spec:
  host: legacy.shop.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
"""

DUPLICATE_BACKENDS = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: cart}
spec:
  versions: [{name: v1}, {name: v2}]
  routes:
    - name: split
      backends:
        - {version: v1, weight: 1}
        - {version: v2, weight: 2}
        - {version: v1, weight: 3}
"""

ISTIO_DUPLICATE_BACKENDS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart, namespace: default}
spec:
  hosts: [cart.default.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: split
      route:
        - {destination: {host: cart.default.svc.cluster.local, subset: v1}, weight: 4}
        - {destination: {host: cart.default.svc.cluster.local, subset: v2}, weight: 2}
      timeout: 15s
      retries: {attempts: 0}
"""

SINGLE = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: cart}
spec:
  versions: [{name: v1}]
  routes:
    - name: only
      backends: [{version: v1, weight: 7}]
"""

ISTIO_SINGLE = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart, namespace: default}
spec:
  hosts: [cart.default.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: only
      route: [{destination: {host: cart.default.svc.cluster.local, subset: v1}}]
      timeout: 15s
      retries: {attempts: 0}
"""


@pytest.mark.parametrize(
    ("fragment", "istio"),
    [
        pytest.param(SPLIT, ISTIO_SPLIT, id="versions-services-and-zero-weight"),
        pytest.param(DUPLICATE_BACKENDS, ISTIO_DUPLICATE_BACKENDS, id="same-subset-merged"),
        pytest.param(SINGLE, ISTIO_SINGLE, id="single-destination-has-no-weight"),
    ],
)
def test_splits(fragment: str, istio: str) -> None:
    assert_compiles(fragment, write={"istio": istio}, diagnostics={"istio": []})


def test_backend_with_other_ports_is_reported() -> None:
    fragment = SPLIT.replace(
        "metadata: {name: legacy, namespace: shop}\n",
        "metadata: {name: legacy, namespace: shop}\nspec:\n  ports: [{port: 80}, {port: 8080}]\n",
    )
    expected = "---".join(ISTIO_SPLIT.split("---")[:2])
    assert_compiles(fragment, write={"istio": expected}, diagnostics={"istio": ["MS1030"]})


# GAMMA: a version is a Service of its own (the service's pods with the version's labels);
# weights stay relative, a zero weight stays written.
GAMMA_SPLIT = """
apiVersion: v1
kind: Service
metadata: {name: cart-v1, namespace: shop}
spec:
  selector: {app: cart, version: v1}
  ports: [{name: http-80, port: 80, targetPort: 80, protocol: TCP, appProtocol: http}]
---
apiVersion: v1
kind: Service
metadata: {name: cart-v2, namespace: shop}
spec:
  selector: {app: cart, track: canary}
  ports: [{name: http-80, port: 80, targetPort: 80, protocol: TCP, appProtocol: http}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cart, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: cart}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs:
        - {group: "", kind: Service, name: cart-v1, port: 80, weight: 90}
        - {group: "", kind: Service, name: cart-v2, port: 80, weight: 10}
        - {group: "", kind: Service, name: legacy, port: 80, weight: 0}
      timeouts: {request: 15s}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: legacy, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: legacy}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs: [{group: "", kind: Service, name: legacy, port: 80, weight: 1}]
      timeouts: {request: 15s}
"""


# VPC Lattice: the same per-version Services; the route is a VPC Lattice service on the
# service network's listener for the port, with weights as they are (0-999) and no timeout.
LATTICE_SPLIT = (
    GAMMA_SPLIT.split("---\napiVersion: gateway.networking.k8s.io/v1")[0]
    + """---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cart, namespace: shop}
spec:
  parentRefs:
    - {group: gateway.networking.k8s.io, kind: Gateway, name: mesh, namespace: default,
       sectionName: http-80}
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs:
        - {group: "", kind: Service, name: cart-v1, port: 80, weight: 90}
        - {group: "", kind: Service, name: cart-v2, port: 80, weight: 10}
        - {group: "", kind: Service, name: legacy, port: 80, weight: 0}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: legacy, namespace: shop}
spec:
  parentRefs:
    - {group: gateway.networking.k8s.io, kind: Gateway, name: mesh, namespace: default,
       sectionName: http-80}
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs: [{group: "", kind: Service, name: legacy, port: 80, weight: 1}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: mesh, namespace: default}
spec:
  gatewayClassName: amazon-vpc-lattice
  listeners:
    - {name: http-80, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}
"""
)


def test_splits_side_by_side() -> None:
    assert_compiles(
        SPLIT,
        write={
            "istio": ISTIO_SPLIT,
            "linkerd": GAMMA_SPLIT,
            "gateway-api": GAMMA_SPLIT,
            "vpc-lattice": LATTICE_SPLIT,
        },
        diagnostics={
            "istio": [],
            "linkerd": ["MS2007"],
            "gateway-api": ["MS6005"],
            "vpc-lattice": ["MS5001", "MS5001", "MS5104"],
        },
        allow_lossy=["mtls"],
    )


def test_a_backend_reached_on_another_port_gets_its_first_http_port() -> None:
    """`legacy` has no port 80: its first HTTP port; each of its ports gets its own route."""
    fragment = SPLIT.replace(
        "metadata: {name: legacy, namespace: shop}\n",
        "metadata: {name: legacy, namespace: shop}\nspec:\n  ports: [{port: 8080}, {port: 9090}]\n",
    )
    cart = GAMMA_SPLIT.split("---")[2].replace(
        "name: legacy, port: 80, weight: 0", "name: legacy, port: 8080, weight: 0"
    )
    legacy = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: legacy-%(port)s, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: legacy, port: %(port)s}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs: [{group: "", kind: Service, name: legacy, port: %(port)s, weight: 1}]
      timeouts: {request: 15s}
"""
    expected = "---".join([cart, legacy % {"port": 8080}, legacy % {"port": 9090}])
    assert_compiles(fragment, write={"linkerd": expected, "gateway-api": expected})

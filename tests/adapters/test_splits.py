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

"""Outlier detection and connection limits: service level, and per version as subsets."""

from __future__ import annotations

import pytest

from tests.adapters.validator import assert_compiles

BREAKERS = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: cart}
spec:
  resilience:
    outlierDetection: {consecutiveGatewayErrors: 3, maxEjectionPercent: 50}
    connectionLimits: {maxConnections: 100, maxPendingRequests: 10}
  versions:
    - name: v1
    - name: v2
      resilience:
        outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 1m}
        connectionLimits: {maxRequestsPerConnection: 1}
"""

ISTIO_BREAKERS = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: default}
spec:
  host: cart.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    connectionPool:
      tcp: {maxConnections: 100}
      http: {http1MaxPendingRequests: 10}
    outlierDetection:
      consecutive5xxErrors: 5
      consecutiveGatewayErrors: 3
      interval: 10s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
  subsets:
    - name: v1
      labels: {version: v1}
    - name: v2
      labels: {version: v2}
      trafficPolicy:
        connectionPool:
          http: {maxRequestsPerConnection: 1}
        outlierDetection:
          consecutive5xxErrors: 2
          interval: 1s
          baseEjectionTime: 1m
          maxEjectionPercent: 10
"""

GATEWAY_ONLY = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: cart}
spec:
  resilience:
    outlierDetection: {consecutive5xxErrors: null, consecutiveGatewayErrors: 1}
"""

ISTIO_GATEWAY_ONLY = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: default}
spec:
  host: cart.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    outlierDetection:
      consecutive5xxErrors: 0
      consecutiveGatewayErrors: 1
      interval: 10s
      baseEjectionTime: 30s
      maxEjectionPercent: 10
"""


@pytest.mark.parametrize(
    ("fragment", "istio"),
    [
        pytest.param(BREAKERS, ISTIO_BREAKERS, id="service-and-version-breakers"),
        pytest.param(GATEWAY_ONLY, ISTIO_GATEWAY_ONLY, id="5xx-counter-off"),
    ],
)
def test_resilience(fragment: str, istio: str) -> None:
    assert_compiles(fragment, write={"istio": istio}, diagnostics={"istio": []})

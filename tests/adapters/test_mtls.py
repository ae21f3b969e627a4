"""mTLS: the neutral STRICT default, service and port overrides, both sides consistent."""

from __future__ import annotations

import pytest

from tests.adapters.validator import assert_compiles

MESH_ONLY = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api}
"""

ISTIO_MESH_ONLY = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: default}
spec:
  host: api.default.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
"""

OVERRIDES = """
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {name: m}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api, namespace: prod}
spec:
  ports: [{port: 8080}, {port: 9090}, {port: 15000}]
  mtls:
    mode: STRICT
    ports: {9090: DISABLE, 15000: PERMISSIVE}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: legacy, namespace: prod}
spec:
  mtls: {mode: DISABLE}
"""

ISTIO_OVERRIDES = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: api, namespace: prod}
spec:
  selector: {matchLabels: {app: api}}
  mtls: {mode: STRICT}
  portLevelMtls:
    "9090": {mode: DISABLE}
    "15000": {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: legacy, namespace: prod}
spec:
  selector: {matchLabels: {app: legacy}}
  mtls: {mode: DISABLE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: prod}
spec:
  host: api.prod.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
      - {port: {number: 9090}, tls: {mode: DISABLE}}
      - {port: {number: 15000}, tls: {mode: ISTIO_MUTUAL}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: legacy, namespace: prod}
spec:
  host: legacy.prod.svc.cluster.local
  trafficPolicy: {tls: {mode: DISABLE}}
"""

SAME_AS_MESH = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api}
spec:
  mtls: {mode: STRICT, ports: {80: STRICT}}
"""


@pytest.mark.parametrize(
    ("fragment", "istio"),
    [
        pytest.param(MESH_ONLY, ISTIO_MESH_ONLY, id="neutral-default-strict-written-out"),
        pytest.param(OVERRIDES, ISTIO_OVERRIDES, id="service-and-port-overrides"),
        pytest.param(SAME_AS_MESH, ISTIO_MESH_ONLY, id="override-equal-to-mesh-adds-nothing"),
    ],
)
def test_mtls(fragment: str, istio: str) -> None:
    assert_compiles(fragment, write={"istio": istio}, diagnostics={"istio": []})

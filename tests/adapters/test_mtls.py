"""mTLS: the neutral STRICT default, service and port overrides, both sides consistent."""

from __future__ import annotations

import pytest

from tests.adapters.validator import Unsupported, assert_compiles

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


# Linkerd has no mTLS mode: STRICT is a Server admitting authenticated clients only (a
# plaintext request then gets 403, MS2007); PERMISSIVE is its default; DISABLE exists only
# as skip-inbound-ports (MS2006, an error). Gateway API has no mTLS field at all.
LINKERD_MESH_ONLY = """
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: api-80, namespace: default}
spec:
  podSelector: {matchLabels: {app: api}}
  port: 80
  proxyProtocol: unknown
  accessPolicy: all-authenticated
"""
LINKERD_OVERRIDES_LOSSY = LINKERD_MESH_ONLY.replace(
    "api-80, namespace: default", "api-8080, namespace: prod"
).replace("port: 80\n", "port: 8080\n")


def test_mtls_side_by_side() -> None:
    assert_compiles(
        MESH_ONLY,
        write={"istio": ISTIO_MESH_ONLY, "linkerd": LINKERD_MESH_ONLY, "gateway-api": ""},
        diagnostics={"istio": [], "linkerd": ["MS2007"], "gateway-api": ["MS6005"]},
    )
    assert_compiles(
        OVERRIDES,
        write={"linkerd": Unsupported, "gateway-api": Unsupported},
        diagnostics={
            "linkerd": ["MS2006", "MS2006", "MS2007"],
            "gateway-api": ["MS6004", "MS6004", "MS6004"],
        },
    )


def test_linkerd_disable_allowed_keeps_mtls_from_meshed_clients() -> None:
    """Allowed, DISABLE and PERMISSIVE ports get no Server; STRICT keeps its own."""
    assert_compiles(OVERRIDES, write={"linkerd": LINKERD_OVERRIDES_LOSSY}, allow_lossy=["mtls"])

"""Istio's own names: the adapter's target name, API groups and the root namespace."""

from __future__ import annotations

TARGET = "istio"
#: istiod's root namespace: its PeerAuthentications and AuthorizationPolicies without
#: a selector apply mesh-wide (MeshConfig `rootNamespace`, default `istio-system`)
ROOT_NAMESPACE = "istio-system"
NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"

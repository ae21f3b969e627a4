"""The Istio resources of a live cluster, for `import`, `diff` and `plan --live`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.istio import import_codes as C
from adapters.istio.resources import MESH_CONFIG, TARGET
from adapters.kit.kube_cluster import read_cluster as read_kinds
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic

KINDS = (
    ("networking.istio.io/v1", "VirtualService"),
    ("networking.istio.io/v1", "DestinationRule"),
    ("security.istio.io/v1", "PeerAuthentication"),
    ("security.istio.io/v1", "AuthorizationPolicy"),
    # Who runs each service and on which ports: identities and target ports come from
    # these, never from guesses (decisions.md §9).
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("v1", "Pod"),
    ("v1", "ConfigMap"),
)


def _is_mesh_config(item: Mapping[str, Any]) -> bool:
    """Of the ConfigMaps, only Istio's mesh config (its trust domain)."""
    meta = item.get("metadata") or {}
    return (meta.get("namespace"), meta.get("name")) == MESH_CONFIG


def read_cluster(
    kubeconfig: str | None, context: str | None
) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """Every VirtualService, DestinationRule, PeerAuthentication and AuthorizationPolicy
    in all namespaces, oldest first within a kind (Istio prefers the oldest object), and
    the Services, ServiceAccounts and workloads that say who runs each service."""
    return read_kinds(
        kubeconfig,
        context,
        KINDS,
        target=TARGET,
        unreachable=C.CLUSTER_UNREACHABLE,
        keep={"ConfigMap": _is_mesh_config},
    )

"""Reading GAMMA HTTPRoutes, and the Services and workloads they name, from a live
cluster (for `meshspec import --live --from gateway-api`)."""

from __future__ import annotations

from adapters.gateway_api import codes as C
from adapters.kit import read_cluster as read_kinds
from meshspec.adapter import Kind, NativeDocument
from meshspec.diagnostics import Diagnostic

CLUSTER_KINDS: tuple[Kind, ...] = (
    Kind("v1", "Service"),
    Kind("gateway.networking.k8s.io/v1", "HTTPRoute"),
    Kind("v1", "ServiceAccount"),
    Kind("apps/v1", "Deployment"),
    Kind("apps/v1", "StatefulSet"),
    Kind("apps/v1", "DaemonSet"),
)


def read_cluster(
    kubeconfig: str | None, context: str | None
) -> tuple[list[NativeDocument], list[Diagnostic]]:
    return read_kinds(
        kubeconfig,
        context,
        [(k.api_version, k.kind) for k in CLUSTER_KINDS],
        target="gateway-api",
        unreachable=C.CLUSTER_UNREADABLE,
    )

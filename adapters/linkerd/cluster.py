"""Reading Linkerd's resources, and the Services they name, from a live cluster (for
`meshspec import --live --from linkerd`): every kind the importer reads, oldest first
within a kind (Linkerd's policy controller breaks route ties by creation time)."""

from __future__ import annotations

from adapters.kit import read_cluster as read_kinds
from adapters.linkerd import KINDS
from adapters.linkerd import codes as C
from meshspec.adapter import Kind, NativeDocument
from meshspec.diagnostics import Diagnostic

CLUSTER_KINDS: tuple[Kind, ...] = (
    *KINDS,
    Kind("policy.linkerd.io/v1beta1", "ServerAuthorization"),
    Kind("linkerd.io/v1alpha2", "ServiceProfile"),
    # who runs each service: identities come from these, never from guesses
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
        target="linkerd",
        unreachable=C.CLUSTER_UNREADABLE,
    )

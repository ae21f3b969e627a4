"""A mesh's resources read from a live cluster, for `import`, `diff` and `plan`.

The cluster is named the way kubectl and istioctl name it: `--kubeconfig FILE`
(default: `$KUBECONFIG`, then `~/.kube/config`) and `--context NAME` (default:
the kubeconfig's current context). A side of `meshspec diff` names it as
`live:` (the current context) or `live:CONTEXT`. The mesh's adapter does the
reading (its `cluster` reader), so the core knows no cluster API.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.errors import MeshSpecError
from meshspec.registry import get_adapter

#: how a side of `meshspec diff` names a cluster: `live:` or `live:CONTEXT`
LIVE_PREFIX = "live:"


class NoClusterReader(MeshSpecError):
    """The mesh's adapter cannot read its resources from a cluster."""


@dataclass(frozen=True)
class ClusterRef:
    """Which cluster: a kubeconfig file and a context in it (None: kubectl's defaults)."""

    kubeconfig: str | None = None
    context: str | None = None


def is_live(location: str) -> bool:
    return location.startswith(LIVE_PREFIX)


def live_label(cluster: ClusterRef) -> str:
    """How reports name a live side: `live` (the current context) or `live:CONTEXT`, so
    "live: forwarded" reads as the cluster's answer."""
    return f"{LIVE_PREFIX}{cluster.context}" if cluster.context else LIVE_PREFIX.rstrip(":")


def parse_live(location: str, default: ClusterRef) -> ClusterRef:
    """`live:` is the default cluster; `live:CONTEXT` that context of the same kubeconfig."""
    context = location[len(LIVE_PREFIX) :].strip()
    return ClusterRef(default.kubeconfig, context or default.context)


def read_live(mesh: str, cluster: ClusterRef) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """The mesh's resources and platform objects in the cluster, and what could not be
    read. UnknownTarget for an unknown mesh, NoClusterReader when it cannot read one."""
    adapter = get_adapter(mesh)
    if adapter.cluster is None:
        raise NoClusterReader(f"target '{mesh}' cannot read from a cluster")
    return adapter.cluster.read(kubeconfig=cluster.kubeconfig, context=cluster.context)

"""Reading Linkerd's resources, and the Services they name, from a live cluster (for
`meshspec import --live --from linkerd`): every kind the importer reads, oldest first
within a kind (Linkerd's policy controller breaks route ties by creation time)."""

from __future__ import annotations

from typing import Any

from adapters._kube import KubeClient, KubeError
from adapters.linkerd import KINDS
from adapters.linkerd import codes as C
from meshspec.adapter import Kind, NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Origin

CLUSTER_KINDS: tuple[Kind, ...] = (
    *KINDS,
    Kind("policy.linkerd.io/v1beta1", "ServerAuthorization"),
    Kind("linkerd.io/v1alpha2", "ServiceProfile"),
)
_SERVER_SET = ("managedFields", "resourceVersion", "uid", "generation", "ownerReferences")


def read_cluster(
    kubeconfig: str | None, context: str | None
) -> tuple[list[NativeDocument], list[Diagnostic]]:
    try:
        client = KubeClient(kubeconfig, context)
    except KubeError as exc:
        return [], [C.CLUSTER_UNREADABLE(str(exc), target="linkerd")]
    docs: list[NativeDocument] = []
    problems: list[Diagnostic] = []
    try:
        for kind in CLUSTER_KINDS:
            try:
                items = client.list(kind.api_version, kind.kind)
            except KubeError as exc:
                problems.append(C.CLUSTER_UNREADABLE(str(exc), target="linkerd"))
                if "cannot reach" in str(exc):
                    break
                continue
            for item in sorted(items, key=_created):
                data = {k: v for k, v in item.items() if k != "status"}
                meta = {
                    k: v for k, v in (data.get("metadata") or {}).items() if k not in _SERVER_SET
                }
                data["metadata"] = meta
                where = f"cluster:{kind.kind}/{meta.get('namespace', 'default')}/{meta.get('name')}"
                docs.append(NativeDocument(data, Origin(where)))
    finally:
        client.close()
    return docs, problems


def _created(item: Any) -> tuple[str, str, str]:
    meta = item.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp", "")),
        str(meta.get("namespace")),
        str(meta.get("name")),
    )

"""Reading a mesh's resources from a live Kubernetes cluster, by a list of kinds.

Every Kubernetes-based adapter reads its cluster the same way: each kind in every
namespace, oldest first within a kind (meshes that let two objects claim the same
thing prefer the oldest, e.g. Istio), without what the API server adds
(`status`, `managedFields`, ...), each object located as
`cluster:<Kind>/<namespace>/<name>` so that findings can name it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adapters._kube import KubeClient, KubeError
from meshspec.adapter import NativeDocument
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Origin

_SERVER_FIELDS = (
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "ownerReferences",
)

#: which objects of a kind to keep (all, when the kind has no entry)
Keep = Mapping[str, Callable[[Mapping[str, Any]], bool]]


def read_cluster(
    kubeconfig: str | None,
    context: str | None,
    kinds: Sequence[tuple[str, str]],
    *,
    target: str,
    unreachable: Code,
    keep: Keep | None = None,
) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """The objects of `kinds` (`(apiVersion, kind)`, in that order); a kind the
    cluster cannot list is the finding `unreachable`, and an unreachable API
    server stops the reading."""
    try:
        client = KubeClient(kubeconfig, context)
    except KubeError as exc:
        return [], [unreachable(str(exc), target=target)]
    docs: list[NativeDocument] = []
    problems: list[Diagnostic] = []
    wanted = keep or {}
    try:
        for api_version, kind in kinds:
            try:
                items = client.list(api_version, kind)
            except KubeError as exc:
                problems.append(unreachable(str(exc), target=target))
                if "cannot reach" in str(exc):
                    break
                continue
            items.sort(key=_age)
            if kind in wanted:
                items = [i for i in items if wanted[kind](i)]
            for item in items:
                data = clean(item)
                meta = data.get("metadata") or {}
                where = f"cluster:{kind}/{meta.get('namespace', 'default')}/{meta.get('name')}"
                docs.append(NativeDocument(data, Origin(where)))
    finally:
        client.close()
    return docs, problems


def _age(item: Any) -> tuple[str, str, str]:
    meta = item.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp", "")),
        str(meta.get("namespace")),
        str(meta.get("name")),
    )


def clean(item: Mapping[str, Any]) -> dict[str, Any]:
    """The object as its author wrote it: no `status`, no fields the server sets."""
    data = {k: v for k, v in item.items() if k != "status"}
    meta = dict(data.get("metadata") or {})
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    data["metadata"] = meta
    return data

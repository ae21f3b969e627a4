"""Kubernetes object conventions every Kubernetes-based target shares.

Names, the workload label, durations and the source annotation live here so
that each adapter writes them the same way and an importer can rely on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from meshspec.durations import format_duration
from meshspec.spec import Spec
from meshspec.spec.bundle import PathKey, dotted

#: Label that selects a service's pods. The neutral spec names services, not pods;
#: compiled policies assume the Deployment labels its pods `app: <service name>`
#: (the Kubernetes recommended-labels convention the bookinfo sample also uses).
WORKLOAD_LABEL = "app"
SOURCE_ANNOTATION = "meshspec.io/source"
CLUSTER_DOMAIN = "svc.cluster.local"


def fqdn(name: str, namespace: str) -> str:
    """The cluster-local host name of a Service: unambiguous from every namespace."""
    return f"{name}.{namespace}.{CLUSTER_DOMAIN}"


def workload_selector(name: str) -> dict[str, str]:
    return {WORKLOAD_LABEL: name}


def duration(seconds: float) -> str:
    """Go/protobuf duration text, shortest exact form (deterministic output)."""
    return format_duration(seconds)


def source_of(spec: Spec, key: str, path: PathKey = ()) -> str:
    """`<file>#<service key>.<spec path>`: where a generated object comes from."""
    origin = spec.origins.get(key)
    file = origin.file if origin else "(default)"
    where = key if key != "mesh" else "mesh"
    suffix = dotted(path)
    return f"{file}#{where}" + (f".{suffix}" if suffix else "")


def metadata(name: str, namespace: str, source: str, **extra: str) -> dict[str, Any]:
    annotations = {SOURCE_ANNOTATION: source, **extra}
    return {"name": name, "namespace": namespace, "annotations": dict(sorted(annotations.items()))}


def resource(
    api_version: str, kind: str, meta: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


def sort_resources(
    resources: Iterable[dict[str, Any]], kind_order: Sequence[str]
) -> list[dict[str, Any]]:
    """Apply-safe order (kinds as given), then namespace, then name: stable bytes."""
    rank = {kind: i for i, kind in enumerate(kind_order)}

    def key(r: dict[str, Any]) -> tuple[int, str, str, str]:
        meta = r.get("metadata") or {}
        kind = str(r.get("kind", ""))
        return (
            rank.get(kind, len(rank)),
            kind,
            str(meta.get("namespace", "")),
            str(meta.get("name", "")),
        )

    return sorted(resources, key=key)

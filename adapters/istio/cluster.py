"""Reading the Istio resources of a live cluster, for `meshspec import --live`."""

from __future__ import annotations

from typing import Any

from adapters._kube import KubeClient, KubeError
from adapters.istio import import_codes as C
from adapters.istio._import_workloads import MESH_CONFIG
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Origin

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
_SERVER_FIELDS = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp")


def read_cluster(
    kubeconfig: str | None, context: str | None
) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """Every VirtualService, DestinationRule, PeerAuthentication and AuthorizationPolicy
    in all namespaces, oldest first within a kind (Istio prefers the oldest object), and
    the Services, ServiceAccounts and workloads that say who runs each service."""
    try:
        client = KubeClient(kubeconfig, context)
    except KubeError as exc:
        return [], [C.CLUSTER_UNREACHABLE(str(exc), target="istio")]
    docs: list[NativeDocument] = []
    problems: list[Diagnostic] = []
    try:
        for api_version, kind in KINDS:
            try:
                items = client.list(api_version, kind)
            except KubeError as exc:
                problems.append(C.CLUSTER_UNREACHABLE(str(exc), target="istio"))
                if "cannot reach" in str(exc):
                    break
                continue
            items.sort(key=_age)
            if kind == "ConfigMap":  # only Istio's mesh config (its trust domain)
                items = [i for i in items if _is_mesh_config(i)]
            for item in items:
                data = _clean(item)
                meta = data.get("metadata") or {}
                where = f"cluster:{kind}/{meta.get('namespace', 'default')}/{meta.get('name')}"
                docs.append(NativeDocument(data, Origin(where)))
    finally:
        client.close()
    return docs, problems


def _is_mesh_config(item: Any) -> bool:
    meta = item.get("metadata") or {}
    return (meta.get("namespace"), meta.get("name")) == MESH_CONFIG


def _age(item: Any) -> tuple[str, str, str]:
    meta = item.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp", "")),
        str(meta.get("namespace")),
        str(meta.get("name")),
    )


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in item.items() if k != "status"}
    meta = dict(data.get("metadata") or {})
    for key in (*_SERVER_FIELDS, "ownerReferences"):
        meta.pop(key, None)
    data["metadata"] = meta
    return data

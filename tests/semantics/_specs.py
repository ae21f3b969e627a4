"""Building small specs for oracle tests from plain data."""

from __future__ import annotations

from typing import Any

from meshspec.spec import MeshDocument, ServiceDocument, Spec

API = "meshspec.io/v1alpha1"


def service(name: str, namespace: str = "default", **spec: Any) -> ServiceDocument:
    return ServiceDocument.model_validate(
        {
            "apiVersion": API,
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


def mesh(mode: str = "STRICT", trust_domain: str = "cluster.local") -> MeshDocument:
    return MeshDocument.model_validate(
        {
            "apiVersion": API,
            "kind": "Mesh",
            "metadata": {"name": "m"},
            "spec": {"trustDomain": trust_domain, "mtls": {"mode": mode}},
        }
    )


def build(*services: ServiceDocument, mesh_doc: MeshDocument | None = None) -> Spec:
    docs: list[MeshDocument | ServiceDocument] = [mesh_doc] if mesh_doc else []
    docs.extend(services)
    return Spec.build(docs)


def route(name: str, backend: str, *matches: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "matches": list(matches), "backends": [{"version": backend}]}


def versions(*names: str) -> list[dict[str, str]]:
    return [{"name": n} for n in names]

"""Realistic generated meshes: versions, routes with several matches, authz, resilience."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from meshspec.spec import MeshDocument, Origin, ServiceDocument, Spec

try:
    from yaml import CSafeDumper as Dumper
except ImportError:  # PyYAML without libyaml
    from yaml import SafeDumper as Dumper  # type: ignore[assignment]

SERVICES_PER_NAMESPACE = 50


def service_document(
    i: int, total: int, per_namespace: int = SERVICES_PER_NAMESPACE
) -> dict[str, Any]:
    ns = f"team-{i // per_namespace}"
    caller = f"svc-{(i + 1) % total}"
    caller_ns = f"team-{((i + 1) % total) // per_namespace}"
    spec: dict[str, Any] = {
        "serviceAccount": f"svc-{i}-sa",
        "ports": [{"port": 8080, "name": "http"}, {"port": 9090, "name": "metrics"}],
        "versions": [
            {"name": "v1"},
            {"name": "v2", "resilience": {"outlierDetection": {"consecutive5xxErrors": 2}}},
        ],
        "routes": [
            {
                "name": "pinned",
                "matches": [
                    {"headers": [{"name": "x-canary", "exact": "true"}]},
                    {"path": {"prefix": "/beta"}, "method": "GET"},
                ],
                "backends": [{"version": "v2"}],
            },
            {
                "name": "api",
                "matches": [
                    {"path": {"exact": "/api/health"}},
                    {
                        "path": {"prefix": "/api"},
                        "queryParams": [{"name": "debug", "present": True}],
                    },
                    {"path": {"regex": "/api/v[0-9]+/items"}},
                ],
                "backends": [{"version": "v1", "weight": 90}, {"version": "v2", "weight": 10}],
                "timeout": "5s",
                "retries": {"attempts": 2, "perTryTimeout": "2s", "statusCodes": [503]},
            },
            {"name": "rest", "backends": [{"version": "v1"}]},
        ],
        "mtls": {"ports": {9090: "PERMISSIVE"}} if i % 10 == 0 else None,
        "authorization": {
            "default": "deny",
            "rules": [
                {"name": "no-admin", "action": "DENY", "to": {"paths": [{"prefix": "/admin"}]}},
                {
                    "name": "caller",
                    "action": "ALLOW",
                    "from": [{"services": [f"{caller_ns}/{caller}"]}, {"namespaces": [ns]}],
                    "to": {"methods": ["GET", "POST"], "paths": [{"prefix": "/api"}]},
                },
            ],
        },
        "resilience": {
            "outlierDetection": {"consecutive5xxErrors": 5},
            "connectionLimits": {"maxConnections": 100, "maxPendingRequests": 10},
        },
    }
    if spec["mtls"] is None:
        del spec["mtls"]
    return {
        "apiVersion": "meshspec.io/v1alpha1",
        "kind": "Service",
        "metadata": {"name": f"svc-{i}", "namespace": ns},
        "spec": spec,
    }


def generated_spec(total: int) -> Spec:
    """A spec of `total` services; built from models directly (loading is not measured)."""
    mesh = MeshDocument.model_validate(
        {"apiVersion": "meshspec.io/v1alpha1", "kind": "Mesh", "metadata": {"name": "bench"}}
    )
    docs: list[MeshDocument | ServiceDocument] = [mesh]
    origins = {"mesh": Origin("bench.yaml")}
    for i in range(total):
        doc = ServiceDocument.model_validate(service_document(i, total))
        docs.append(doc)
        origins[f"{doc.metadata.namespace}/{doc.metadata.name}"] = Origin("bench.yaml", i + 1)
    return Spec.build(docs, origins)


def write_mesh(
    directory: Path,
    total: int,
    per_file: int = 500,
    per_namespace: int = SERVICES_PER_NAMESPACE,
) -> list[Path]:
    """The generated mesh as spec files of `per_file` services each (the Mesh first),
    `per_namespace` services in each namespace.

    Written with libyaml so generating 50,000 services takes seconds, in the
    block style people write by hand.
    """
    directory.mkdir(parents=True, exist_ok=True)
    mesh = {"apiVersion": "meshspec.io/v1alpha1", "kind": "Mesh", "metadata": {"name": "bench"}}
    files: list[Path] = []
    for start in range(0, total, per_file):
        docs: list[dict[str, Any]] = [mesh] if start == 0 else []
        docs += [
            service_document(i, total, per_namespace)
            for i in range(start, min(total, start + per_file))
        ]
        path = directory / f"services-{start // per_file:04d}.yaml"
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump_all(docs, fh, Dumper=Dumper, sort_keys=False, explicit_start=True)
        files.append(path)
    return files

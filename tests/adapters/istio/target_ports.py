"""Specs whose Services land on other ports than they listen on, and those Services.

Kubernetes Services usually map `port` to a different `targetPort`. Istio matches
some fields against the Service port and others against the workload port, so
every Istio test that only ever used `targetPort == port` could not tell them
apart. These helpers rewrite a spec so that every port lands elsewhere, and
build the Kubernetes Services a cluster would have for it.
"""

from __future__ import annotations

import json
from typing import Any

from ruamel.yaml import YAML

from meshspec.spec import Spec

#: Where every port lands: far enough that no port of a spec collides with another's target.
OFFSET = 9000


def shifted(port: int) -> int:
    return port + OFFSET if port + OFFSET <= 65535 else port - OFFSET


def with_target_ports(text: str) -> str:
    """The spec `text` (YAML or JSON documents) with `targetPort: port + 9000` on every port."""
    docs = [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "Service":
            continue
        spec = doc.setdefault("spec", {}) or {}
        doc["spec"] = spec
        ports = spec.get("ports") or [{"port": 80}]
        spec["ports"] = [{**p, "targetPort": shifted(int(p["port"]))} for p in ports]
    return "\n---\n".join(json.dumps(d) for d in docs)


def kubernetes_services(spec: Spec) -> list[dict[str, Any]]:
    """The `v1` Services a cluster runs the spec with: selector `app`, each port's targetPort."""
    out = []
    for svc in spec.services.values():
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": svc.metadata.name, "namespace": svc.metadata.namespace},
                "spec": {
                    "selector": {"app": svc.metadata.name},
                    "ports": [
                        {
                            "name": p.name or f"{p.protocol}-{p.port}",
                            "port": p.port,
                            "targetPort": p.workload_port,
                            "appProtocol": str(p.protocol),
                        }
                        for p in svc.spec.ports
                    ],
                },
            }
        )
    return out

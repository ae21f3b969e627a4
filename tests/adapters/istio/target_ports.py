"""Specs whose Services land on other ports than they listen on, and those Services.

Kubernetes Services usually map `port` to a different `targetPort`. Istio matches
some fields against the Service port and others against the workload port, so
every Istio test that only ever used `targetPort == port` could not tell them
apart. These helpers rewrite a spec so that every port lands elsewhere, and
build the Kubernetes Services a cluster would have for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML

from meshspec.semantics import Request
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


def requests_for(spec: Spec) -> Iterator[Request]:
    """Every caller (and none) to every service and port, over the paths, methods and
    header values the spec mentions."""
    paths = {"/", "/x"}
    headers: list[dict[str, str]] = [{}]
    for svc in spec.services.values():
        for route in svc.spec.routes:
            for match in route.matches:
                if match.path is not None and match.path.regex is None:
                    paths.add(match.path.value)
                for h in match.headers:
                    if h.exact is not None:
                        headers.append({h.name: h.exact})
        for rule in svc.spec.authorization.rules if svc.spec.authorization else ():
            for p in rule.to.paths if rule.to else ():
                if p.regex is None:
                    paths.add(p.value)
                    paths.add(p.value.rstrip("/") + "/x")
    sources: list[str | None] = [None, *spec.services]
    for key, svc in spec.services.items():
        ports: list[int | None] = [None, *(p.port for p in svc.spec.ports)]
        for source in sources:
            for port in ports:
                for path in sorted(paths):
                    for method in ("GET", "POST", "DELETE"):
                        for h in headers:
                            yield Request(key, path, method, h, source=source, port=port)

"""Reading a live Consul agent through its HTTP API (py-consul): every config entry of the
kinds the importer reads (`GET /v1/config/<kind>`), and the service registrations
(`GET /v1/catalog/service/<name>`), whose ports and `Meta` are the platform facts an import
needs (ports, version labels), never guessed.

The agent's address is `--consul-addr` (`host:port` or a URL); an ACL token, where the agent
needs one, comes from `CONSUL_HTTP_TOKEN` as for the `consul` command.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from adapters.consul import codes as C
from adapters.consul.entries import ENTRY_KINDS, enveloped
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Origin

CATALOG_API = "consul/catalog"
#: a service's registrations, read into one document the importer understands
CATALOG_SERVICE = "catalog-service"


def read_agent(address: str) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """The agent's entries and registrations; a finding (never an exception) when it cannot."""
    import consul
    import requests

    parts = urlsplit(address if "//" in address else f"http://{address}")
    url = f"{parts.scheme}://{parts.hostname}:{parts.port or 8500}"
    client = consul.Consul(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 8500,
        scheme=parts.scheme or "http",
        token=os.environ.get("CONSUL_HTTP_TOKEN") or None,
    )
    docs: list[NativeDocument] = []
    try:
        for kind in ENTRY_KINDS:
            for i, raw in enumerate(client.config.list(kind)):
                docs.append(NativeDocument(enveloped(raw), Origin(f"{url}/v1/config/{kind}", i)))
        _, services = client.catalog.services()
        for name in sorted(services):
            _, nodes = client.catalog.service(name)
            data = registrations(name, nodes)
            if data is not None:
                docs.append(NativeDocument(data, Origin(f"{url}/v1/catalog/service/{name}", 0)))
    except (consul.ConsulException, requests.RequestException, OSError, ValueError) as exc:
        return [], [
            C.UNREACHABLE(
                f"cannot read the Consul agent at {url}: {exc}",
                hint="give the agent's HTTP address with --consul-addr (and CONSUL_HTTP_TOKEN "
                "where ACLs are on)",
                target="consul",
            )
        ]
    return docs, []


def registrations(name: str, nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The instances of a service as one document (sidecar proxies and Consul's own service
    are not services of the spec)."""
    instances = [
        {"Port": n.get("ServicePort"), "Meta": dict(n.get("ServiceMeta") or {})}
        for n in nodes
        if (n.get("ServiceKind") or "") == "" and name != "consul"
    ]
    if not instances:
        return None
    return {
        "apiVersion": CATALOG_API,
        "kind": CATALOG_SERVICE,
        "Name": name,
        "Instances": instances,
    }

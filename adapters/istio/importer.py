"""Istio resources -> the neutral spec, keeping Istio's meaning wherever it can.

Istio resources name hosts, not Kubernetes Services, so the services, ports and
versions are inferred: services from VirtualService/DestinationRule hosts and from
policy selectors (`app: <name>`), versions from DestinationRule subsets, ports from
port selectors (else 80/http, said in an info finding). Istio defaults that differ
from the neutral ones are written out explicitly (no timeout, Istio's default
retries, PERMISSIVE mTLS). Every loss names the object, field and file:line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.istio import import_codes as C
from adapters.istio._import_context import ImportContext, ServiceDraft
from adapters.istio._import_routes import default_route, import_virtual_service
from adapters.istio._import_security import (
    import_authorization_policy,
    import_peer_authentication,
)
from adapters.istio._import_traffic import check_client_tls, import_destination_rule
from adapters.istio._model_names import ROOT_NAMESPACE
from meshspec.adapter import ImportResult, NativeDocument
from meshspec.diagnostics import sorted_diagnostics
from meshspec.loader import load_texts
from meshspec.spec import API_VERSION

IMPORTED = ("VirtualService", "DestinationRule", "PeerAuthentication", "AuthorizationPolicy")
ISTIO_GROUPS = ("networking.istio.io", "security.istio.io")


def host_to_key(host: str, namespace: str) -> str | None:
    """`name`, `name.ns`, `name.ns.svc[.cluster.local]` -> `ns/name`; else None."""
    h = host.strip().lower().rstrip(".")
    if not h or "*" in h:
        return None
    parts = h.split(".")
    if len(parts) == 1:
        return f"{namespace}/{parts[0]}"
    if len(parts) == 2 or (len(parts) >= 3 and parts[2] == "svc"):
        if len(parts) > 3 and ".".join(parts[3:]) != "cluster.local":
            return None
        return f"{parts[1]}/{parts[0]}"
    return None


def import_istio(documents: Sequence[NativeDocument]) -> ImportResult:
    ctx = ImportContext()
    docs = _supported(ctx, documents)
    _inventory(ctx, docs)

    def resolve(host: str, namespace: str) -> str | None:
        key = host_to_key(host, namespace)
        return key if key in ctx.services else None

    _routes(ctx, docs, resolve)
    seen_dr: set[str] = set()
    for doc in docs:
        if doc.kind == "DestinationRule":
            key = resolve(str((doc.data.get("spec") or {}).get("host", "")), doc.namespace)
            if key is None:
                continue
            if key in seen_dr:
                ctx.report(C.DUPLICATE_OBJECT, doc, ("spec", "host"), f"{key} already has one")
                continue
            seen_dr.add(key)
            import_destination_rule(ctx, doc, ctx.services[key])
    mesh_mode: str | None = None
    for doc in docs:
        if doc.kind == "PeerAuthentication":
            mode = import_peer_authentication(ctx, doc)
            if mode is not None and mesh_mode is None:
                mesh_mode = mode
    for doc in docs:
        if doc.kind == "AuthorizationPolicy":
            import_authorization_policy(ctx, doc)
    for svc in ctx.services.values():
        check_client_tls(ctx, svc, mesh_mode or "PERMISSIVE")
    documents_out = _documents(ctx, mesh_mode)
    text = "\n---\n".join(json.dumps(d) for d in documents_out) or "{}"
    loaded = load_texts([("<imported from istio>", text)]) if documents_out else None
    diagnostics = list(ctx.diagnostics)
    spec = None
    if loaded is not None:
        diagnostics.extend(loaded.diagnostics)
        spec = loaded.spec
    return ImportResult(spec, sorted_diagnostics(diagnostics), documents_out)


def _supported(ctx: ImportContext, documents: Sequence[NativeDocument]) -> list[NativeDocument]:
    out = []
    for doc in documents:
        if not isinstance(doc.data, Mapping) or not doc.kind:
            ctx.report(C.UNREADABLE, doc, (), "not a Kubernetes object (no kind)")
            continue
        group = str(doc.data.get("apiVersion", "")).split("/")[0]
        if doc.kind == "Service" and doc.data.get("apiVersion") == "v1":
            out.append(doc)
        elif doc.kind in IMPORTED and group in ISTIO_GROUPS:
            if not isinstance(doc.data.get("spec") or {}, Mapping):
                ctx.report(C.UNREADABLE, doc, ("spec",), "spec is not a mapping")
                continue
            out.append(doc)
        else:
            ctx.report(
                C.KIND_SKIPPED,
                doc,
                ("kind",),
                f"{doc.kind} ({doc.data.get('apiVersion')}) is not imported",
                hint="only VirtualService, DestinationRule, PeerAuthentication, "
                "AuthorizationPolicy and the ports of Kubernetes Services are imported",
            )
    return out


def _mesh_bound(doc: NativeDocument) -> bool:
    gateways = (doc.data.get("spec") or {}).get("gateways")
    return not gateways or "mesh" in gateways


def _protocol(port: Mapping[str, Any]) -> str:
    """Istio's protocol selection: `appProtocol`, else the port name's prefix
    (istio.io docs/ops/configuration/traffic-management/protocol-selection)."""
    name = str(port.get("appProtocol") or port.get("name") or "").lower()
    head = name.split("-", 1)[0]
    if head == "grpc":
        return "grpc"
    if head in ("http", "http2", ""):  # unnamed: Istio sniffs; HTTP is what routes need
        return "http"
    return "tcp"


def _kubernetes_service(ctx: ImportContext, doc: NativeDocument) -> None:
    svc = ctx.service(doc.namespace, doc.name)
    svc.declared = True
    for port in (doc.data.get("spec") or {}).get("ports") or []:
        if not isinstance(port, Mapping) or "port" not in port:
            continue
        number = int(port["port"])
        svc.ports[number] = _protocol(port)
        target = port.get("targetPort")
        if isinstance(target, int):
            svc.target_ports[target] = number


def _inventory(ctx: ImportContext, docs: list[NativeDocument]) -> None:
    for doc in docs:
        spec = doc.data.get("spec") or {}
        if doc.kind == "Service":
            _kubernetes_service(ctx, doc)
        elif doc.kind == "VirtualService":
            if not _mesh_bound(doc):
                continue
            for i, host in enumerate(spec.get("hosts") or []):
                key = host_to_key(str(host), doc.namespace)
                if key is None:
                    ctx.report(
                        C.HOST_NOT_SERVICE,
                        doc,
                        ("spec", "hosts", i),
                        f"host {host!r} is not a cluster service; its rules are not imported",
                    )
                    continue
                ctx.service(*key.split("/"))
            for rule in spec.get("http") or []:
                for dest in (rule or {}).get("route") or []:
                    host = str(((dest or {}).get("destination") or {}).get("host", ""))
                    key = host_to_key(host, doc.namespace)
                    if key is not None:
                        ctx.service(*key.split("/"))
            for proto in ("tcp", "tls"):
                if spec.get(proto):
                    ctx.report(
                        C.FIELD_DROPPED, doc, ("spec", proto), f"`{proto}` routes are not kept"
                    )
        elif doc.kind == "DestinationRule":
            key = host_to_key(str(spec.get("host", "")), doc.namespace)
            if key is None:
                ctx.report(
                    C.HOST_NOT_SERVICE,
                    doc,
                    ("spec", "host"),
                    f"host {spec.get('host')!r} is not a cluster service; not imported",
                )
            else:
                ctx.service(*key.split("/"))
        elif doc.namespace != ROOT_NAMESPACE:
            labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
            if "app" in labels:
                ctx.service(doc.namespace, str(labels["app"]))


def _routes(ctx: ImportContext, docs: list[NativeDocument], resolve: Any) -> None:
    for doc in docs:
        if doc.kind != "VirtualService":
            continue
        if not _mesh_bound(doc):
            ctx.report(
                C.GATEWAY_ONLY,
                doc,
                ("spec", "gateways"),
                "bound to gateways only (no `mesh`): ingress routing is not imported",
            )
            continue
        for i, host in enumerate((doc.data.get("spec") or {}).get("hosts") or []):
            key = resolve(str(host), doc.namespace)
            if key is None:
                continue
            svc = ctx.services[key]
            if svc.routes is not None:
                ctx.report(
                    C.DUPLICATE_OBJECT,
                    doc,
                    ("spec", "hosts", i),
                    f"{key} already has a VirtualService; sidecars use only one",
                )
                continue
            svc.routes = import_virtual_service(ctx, doc, svc, resolve)


def _documents(ctx: ImportContext, mesh_mode: str | None) -> list[dict[str, Any]]:
    if not ctx.services:
        return []
    explicit: list[str] = []
    mesh: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Mesh",
        "metadata": {"name": "mesh"},
        "spec": {"mtls": {"mode": mesh_mode or "PERMISSIVE"}},
    }
    if mesh_mode is None:
        explicit.append("mesh mTLS PERMISSIVE (no mesh-wide PeerAuthentication)")
    out = [mesh]
    inferred_ports = []
    for key in sorted(ctx.services):
        svc = ctx.services[key]
        if not svc.ports:
            svc.ports[80] = "http"
            inferred_ports.append(key)
        if svc.routes is None:
            svc.routes = [default_route(svc)]
            explicit.append(f"{key}: Istio's default route (no timeout, 2 retries)")
        out.append(_service_document(ctx, svc))
    if inferred_ports:
        ctx.diagnostics.append(
            C.PORT_INFERRED(
                "Istio resources do not declare service ports; assumed 80/http for "
                + ", ".join(inferred_ports),
                target="istio",
                hint="edit the ports in the imported spec to match the Kubernetes Services",
            )
        )
    if explicit:
        ctx.diagnostics.append(
            C.DEFAULT_MADE_EXPLICIT(
                "Istio defaults written explicitly: " + "; ".join(explicit), target="istio"
            )
        )
    return out


def _service_document(ctx: ImportContext, svc: ServiceDraft) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "ports": [{"port": p, "protocol": proto} for p, proto in sorted(svc.ports.items())]
    }
    if svc.versions:
        versions = []
        for name, labels in svc.versions.items():
            v: dict[str, Any] = {"name": name}
            if labels and labels != {"version": name}:
                v["labels"] = labels
            if name in svc.version_resilience:
                v["resilience"] = svc.version_resilience[name]
            versions.append(v)
        spec["versions"] = versions
    spec["routes"] = _drop_missing_versions(ctx, svc)
    mode = svc.mtls_workload or svc.mtls_namespace
    if mode or svc.mtls_ports:
        mtls: dict[str, Any] = {}
        if mode:
            mtls["mode"] = mode
        if svc.mtls_ports:
            mtls["ports"] = {str(p): m for p, m in sorted(svc.mtls_ports.items())}
        spec["mtls"] = mtls
    if svc.has_authz:
        spec["authorization"] = {
            "default": "deny" if svc.authz_default_deny else "allow",
            "rules": svc.authz_rules,
        }
    if svc.resilience:
        spec["resilience"] = svc.resilience
    return {
        "apiVersion": API_VERSION,
        "kind": "Service",
        "metadata": {"name": svc.name, "namespace": svc.namespace},
        "spec": spec,
    }


def _drop_missing_versions(ctx: ImportContext, svc: ServiceDraft) -> list[dict[str, Any]]:
    """A subset no DestinationRule defines gets 503 in Istio; the neutral spec has no
    such backend, so it is dropped with a warning."""
    routes = []
    for route in svc.routes or []:
        route = dict(route)
        kept = []
        for backend in route.get("backends") or []:
            backend = dict(backend)
            where = backend.pop("_origin", None)
            target = ctx.services.get(backend.get("service", svc.key))
            version = backend.get("version")
            if version is not None and (target is None or version not in target.versions):
                if where is not None:
                    ctx.report(
                        C.HOST_NOT_SERVICE,
                        where[0],
                        where[1],
                        f"subset {version!r} is defined by no DestinationRule in the input "
                        "(Istio answers 503); the backend is dropped",
                    )
                continue
            kept.append(backend)
        if "backends" in route:
            if kept:
                route["backends"] = kept
            else:
                del route["backends"]
        routes.append(route)
    return routes

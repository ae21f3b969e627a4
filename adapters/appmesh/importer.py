"""App Mesh (any form) -> the neutral spec.

Each document is read by the reader of its form into App Mesh's API shape, then
into the typed resources (`resources.parse`, allow-listed), then mapped:

* a virtual service -> a neutral service (`name.namespace...` -> `namespace/name`);
* the virtual nodes a service's routes target (or its provider node) -> versions;
* a router's routes, in App Mesh's priority order -> neutral routes (`_import_routes`);
* listener TLS -> mTLS modes, SAN allow-lists and declared backends with the mesh's
  egress filter -> authorization, outlier detection and connection pools ->
  resilience (`_import_security`, `_import_resilience`).

A virtual node that no virtual service reaches (a client such as a front end)
becomes a service of its own, so authorization can name it as a caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters._k8s import WORKLOAD_LABEL
from adapters.appmesh import codes as C
from adapters.appmesh.form_cli import read_cli
from adapters.appmesh.form_cloudformation import is_template, read_template
from adapters.appmesh.form_crd import is_crd, read_crds
from adapters.appmesh.form_terraform import is_terraform, read_terraform
from adapters.appmesh.resources import (
    NEW_ACCOUNT,
    TARGET,
    AppMesh,
    Item,
    Settings,
    VirtualNode,
    parse,
)
from meshspec.adapter import ImportResult, NativeDocument
from meshspec.diagnostics import Diagnostic, sorted_diagnostics
from meshspec.loader import load_data
from meshspec.spec import API_VERSION


def read_items(documents: Sequence[NativeDocument]) -> tuple[list[Item], list[Diagnostic]]:
    """Every App Mesh resource of the documents, in the API's shape, whatever the form."""
    items: list[Item] = []
    diagnostics: list[Diagnostic] = []
    crds = []
    for doc in documents:
        if is_terraform(doc.data):
            found, more = read_terraform(doc)
        elif is_template(doc.data):
            found, more = read_template(doc)
        elif is_crd(doc.data):
            crds.append(doc)
            continue
        elif "apiVersion" in doc.data and "kind" in doc.data:
            more = [
                C.KIND_SKIPPED(
                    f"{doc.kind} {doc.name}: not an App Mesh resource",
                    location=doc.origin.locate(()),
                    target=TARGET,
                )
            ]
            found = []
        else:
            found, more = read_cli(doc)
        items += found
        diagnostics += more
    found, more = read_crds(crds)
    return items + found, diagnostics + more


def read_mesh(documents: Sequence[NativeDocument]) -> tuple[AppMesh, list[Diagnostic]]:
    """The typed App Mesh resources of the documents, with every finding of reading them."""
    items, diagnostics = read_items(documents)
    mesh = AppMesh()
    for item in items:
        resource, more = parse(item.kind, item.data, item.origin, item.mesh)
        diagnostics += more
        if resource is not None:
            mesh.add(resource, diagnostics.append)
    return mesh, diagnostics


def import_appmesh(
    documents: Sequence[NativeDocument], settings: Settings = NEW_ACCOUNT
) -> ImportResult:
    from adapters.appmesh._import_resilience import import_resilience
    from adapters.appmesh._import_routes import import_routes
    from adapters.appmesh._import_security import import_security

    mesh, diagnostics = read_mesh(documents)
    ctx = Context(mesh, settings, diagnostics)
    _inventory(ctx)
    import_routes(ctx)
    import_security(ctx)
    import_resilience(ctx)
    out = ctx.documents()
    if not [d for d in out if d["kind"] == "Service"]:
        if not documents:  # every file was refused already, with its reason
            return ImportResult(None, sorted_diagnostics(ctx.diagnostics), [])
        ctx.diagnostics.append(
            C.NOTHING(
                "the input holds no virtual service or virtual node"
                + (
                    f" ({len(mesh.routes)} routes, {len(mesh.routers)} routers, "
                    f"{len(mesh.meshes)} meshes)"
                    if mesh.routes or mesh.routers or mesh.meshes
                    else ""
                ),
                location=documents[0].origin.locate(()),
                target=TARGET,
                hint="import all files of the mesh at once (a directory works)",
            )
        )
        return ImportResult(None, sorted_diagnostics(ctx.diagnostics), [])
    plain = json.loads(json.dumps(out))
    loaded = load_data(plain, "<imported from appmesh>")
    ctx.diagnostics += loaded.diagnostics
    if loaded.spec is not None:
        from adapters.appmesh._import_check import check_import

        ctx.diagnostics += check_import(documents, loaded.spec, settings)
    return ImportResult(loaded.spec, sorted_diagnostics(ctx.diagnostics), plain)


# --- neutral names


def dns_label(text: str, fallback: str = "x") -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return label or fallback


def service_key_of(name: str) -> tuple[str, str]:
    """App Mesh virtual service name -> (namespace, name): `reviews.prod.svc.cluster.local`
    is `prod/reviews`; a name of one label, or whose second label is not a name, is in
    `default`."""
    labels = name.split(".")
    service = dns_label(labels[0])
    if len(labels) >= 2 and "${" not in labels[1] and labels[1] not in ("svc", "local"):
        return dns_label(labels[1]), service
    return "default", service


def version_name(node: str, service: str) -> str:
    """`colorteller-red` of service `colorteller` -> `red`; a controller name's
    `_namespace` suffix is dropped. A node named as the service itself stands for all
    its endpoints: "" (no version)."""
    base = node.split("_")[0] if "_" in node else node
    lowered = base.lower()
    if dns_label(lowered) == service:
        return ""
    for sep in ("-", "_", "."):
        if lowered.startswith(service + sep) and len(lowered) > len(service) + 1:
            lowered = lowered[len(service) + 1 :]
            break
    return dns_label(lowered)


@dataclass
class ServiceDraft:
    namespace: str
    name: str
    #: the App Mesh virtual service (None: a virtual node of its own)
    virtual_service: str | None
    router: str | None = None
    provider_node: str | None = None
    #: version name -> virtual node name
    versions: dict[str, str] = field(default_factory=dict)
    ports: list[tuple[int, str]] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)
    mtls: dict[str, Any] | None = None
    authorization: dict[str, Any] | None = None
    resilience: dict[str, Any] | None = None
    version_resilience: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: a node standing for all endpoints (named as the service), when routes target one
    all_node: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def nodes(self) -> list[str]:
        """The virtual nodes behind the service."""
        found = list(self.versions.values())
        if self.all_node is not None:
            found.append(self.all_node)
        if self.provider_node is not None:
            found.append(self.provider_node)
        return found


@dataclass
class Context:
    mesh: AppMesh
    settings: Settings
    diagnostics: list[Diagnostic]
    services: dict[str, ServiceDraft] = field(default_factory=dict)
    #: virtual service name -> neutral key
    by_virtual_service: dict[str, str] = field(default_factory=dict)
    #: virtual node -> neutral keys it serves
    by_node: dict[str, list[str]] = field(default_factory=dict)
    node_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def node(self, name: str) -> VirtualNode | None:
        return self.mesh.nodes.get(name)

    def documents(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        names = sorted(self.mesh.meshes)
        mesh_name = dns_label(names[0]) if names else "appmesh"
        # App Mesh has no TLS unless a listener says so (user guide `tls.md`)
        spec: dict[str, Any] = {"mtls": {"mode": "DISABLE"}}
        domains = self.trust_domains()
        if len(domains) == 1:
            spec = {"trustDomain": domains[0], **spec}
        docs.append(
            {
                "apiVersion": API_VERSION,
                "kind": "Mesh",
                "metadata": {"name": mesh_name},
                "spec": spec,
            }
        )
        for key in sorted(self.services):
            docs.append(self._service_document(self.services[key]))
        return docs

    def trust_domains(self) -> list[str]:
        """SPIFFE trust domains of the listeners' SDS trust bundles (`spiffe://<domain>`,
        as SPIRE names them): the mesh's trust domain when there is one."""
        found = set()
        for node in self.mesh.nodes.values():
            for li in node.listeners:
                if (
                    li.tls is not None
                    and li.tls.trust_sds
                    and li.tls.trust_sds.startswith("spiffe://")
                ):
                    found.add(li.tls.trust_sds.removeprefix("spiffe://").split("/")[0])
        return sorted(found)

    def _service_document(self, svc: ServiceDraft) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        ports = sorted(set(svc.ports))
        if ports:
            spec["ports"] = [{"port": port, "protocol": protocol} for port, protocol in ports]
        if svc.versions:
            versions = []
            for name, node in sorted(svc.versions.items()):
                version: dict[str, Any] = {"name": name}
                labels = dict(self.node_labels.get(node) or {})
                if labels.get(WORKLOAD_LABEL) == svc.name:
                    del labels[WORKLOAD_LABEL]  # the service's own pods: meshspec's convention
                if labels and labels != {"version": name}:
                    version["labels"] = dict(sorted(labels.items()))
                if name in svc.version_resilience:
                    version["resilience"] = svc.version_resilience[name]
                versions.append(version)
            spec["versions"] = versions
        if svc.routes:
            spec["routes"] = svc.routes
        if svc.mtls:
            spec["mtls"] = svc.mtls
        if svc.authorization:
            spec["authorization"] = svc.authorization
        if svc.resilience:
            spec["resilience"] = svc.resilience
        return {
            "apiVersion": API_VERSION,
            "kind": "Service",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": spec,
        }

    def caller_name(self, caller: str, callee: ServiceDraft) -> str:
        ns, name = caller.split("/")
        return name if ns == callee.namespace else caller


_PROTOCOLS = {"http": "http", "http2": "http", "grpc": "grpc", "tcp": "tcp"}


def protocol_of(appmesh: str) -> str:
    return _PROTOCOLS.get(appmesh.lower(), "http")


def _inventory(ctx: Context) -> None:
    """Services from virtual services; versions from the nodes their routes target."""
    mesh = ctx.mesh
    for name, vs in mesh.services.items():
        ns, svc_name = service_key_of(name)
        key = f"{ns}/{svc_name}"
        if key in ctx.services:
            ctx.diagnostics.append(
                C.DUPLICATE(
                    f"virtual services {ctx.services[key].virtual_service} and {name} "
                    f"both become {key}: the later one is kept",
                    location=vs.where,
                    target=TARGET,
                )
            )
        draft = ServiceDraft(ns, svc_name, name, vs.provider_router, vs.provider_node)
        ctx.services[key] = draft
        ctx.by_virtual_service[name] = key
        if vs.provider_router is not None:
            router = mesh.routers.get(vs.provider_router)
            if router is None:
                _dangling(ctx, vs.where, "virtual router", vs.provider_router)
                draft.router = None
            else:
                draft.ports = [(p, protocol_of(proto)) for p, proto in router.listeners]
        elif vs.provider_node is not None:
            node = mesh.nodes.get(vs.provider_node)
            if node is None:
                _dangling(ctx, vs.where, "virtual node", vs.provider_node)
                draft.provider_node = None
            else:
                draft.ports = [(li.port, protocol_of(li.protocol)) for li in node.listeners]
        if not draft.ports:
            for node_name in draft.nodes():
                node = mesh.nodes.get(node_name)
                draft.ports += [
                    (li.port, protocol_of(li.protocol)) for li in (node.listeners if node else ())
                ]
    named = {vs.provider_router for vs in mesh.services.values()}
    for router in mesh.routers.values():
        if router.name not in named:
            ctx.diagnostics.append(
                C.UNREACHED(
                    f"virtual router {router.name}: no virtual service names it as its "
                    "provider, so no request reaches its routes",
                    location=router.where,
                    target=TARGET,
                    hint="import the virtual service too (all files of the mesh at once)",
                )
            )
    # the nodes routes send to, once every service is known: a node named after another
    # service (`legacy_old`, `legacy-v2_old`) is that service's, not a version of this one
    for draft in list(ctx.services.values()):
        for route in mesh.routes_of(draft.router or ""):
            for target in route.targets:
                if target.node not in mesh.nodes:
                    _dangling(ctx, route.where, "virtual node", target.node)
                    continue
                key, version = owner(ctx, target.node, draft)
                other = ctx.services[key]
                if version:
                    other.versions.setdefault(version, target.node)
                else:
                    other.all_node = target.node
    for key, draft in ctx.services.items():
        for node_name in draft.nodes():
            ctx.by_node.setdefault(node_name, []).append(key)
    for name, node in mesh.nodes.items():
        if node.pod_labels:
            ctx.node_labels[name] = dict(node.pod_labels)
        if name in ctx.by_node:
            continue
        # a client of the mesh: a service of its own, so authorization can name it
        host = node.hostname or ""
        ns, svc_name = (
            service_key_of(host)
            if host and "${" not in host.split(".")[0]
            else (
                "default",
                dns_label(name.split("_")[0]),
            )
        )
        key = f"{ns}/{svc_name}"
        if key in ctx.services:
            # a node found at an existing service's name: one of its versions, or (named
            # as the service) all of its endpoints
            version = version_name(name, svc_name)
            if version:
                ctx.services[key].versions.setdefault(version, name)
            else:
                ctx.services[key].all_node = name
            ctx.by_node[name] = [key]
            continue
        draft = ServiceDraft(ns, svc_name, None, provider_node=name)
        draft.ports = [(li.port, protocol_of(li.protocol)) for li in node.listeners]
        ctx.services[key] = draft
        ctx.by_node[name] = [key]


def owner(ctx: Context, node: str, draft: ServiceDraft) -> tuple[str, str]:
    """The service a route's target node belongs to, and its version ("" for all of it):
    the route's own service unless the node is named after another one."""
    base, _, namespace = node.partition("_")
    lowered = dns_label(base)
    if version_name(node, draft.name) == "" or lowered.startswith(draft.name + "-"):
        return draft.key, version_name(node, draft.name)
    for key, other in ctx.services.items():
        if other is draft or other.virtual_service is None:
            continue
        if namespace and dns_label(namespace) != other.namespace:
            continue
        if lowered == other.name:
            return key, ""
        if lowered.startswith(other.name + "-"):
            return key, version_name(node, other.name)
    return draft.key, version_name(node, draft.name)


def _dangling(ctx: Context, where: Any, what: str, name: str) -> None:
    ctx.diagnostics.append(
        C.DANGLING(
            f"{what} {name} is not in the input",
            location=where,
            target=TARGET,
            hint=f"import the {what} too (all files of the mesh at once)",
        )
    )

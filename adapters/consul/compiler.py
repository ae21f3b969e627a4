"""Neutral spec -> Consul config entries (and, for `consul-k8s`, the resources that carry them).

One pass per service: its defaults (protocol, mTLS, what it applies to its upstreams), its
resolver (versions), its router and the splitters its routes lead to, its intentions; then the
mesh-wide proxy-defaults and mesh. The entries are returned in apply order.
"""

from __future__ import annotations

from typing import Any

from adapters._k8s import source_of
from adapters.consul import codes as C
from adapters.consul._defaults import (
    mesh,
    protocol,
    proxy_defaults,
    service_defaults,
    service_mtls,
    upstreams,
    virtual_defaults,
)
from adapters.consul._intentions import Callers, intentions
from adapters.consul._routes import chain, resolver
from adapters.consul.entries import (
    ENTRY_KINDS,
    GLOBAL_NAMES,
    NAMES_META,
    SOURCE_META,
    to_crd,
)
from adapters.kit import CompileContext
from meshspec.diagnostics import Diagnostic
from meshspec.spec import MtlsMode, Spec


def compile_entries(
    spec: Spec, version: str, target: str = "consul"
) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    found = CompileContext(spec, target)
    _check_names(spec, found)
    out: list[dict[str, Any]] = [proxy_defaults(spec, found)]
    permissive = spec.mesh.mtls.mode is MtlsMode.PERMISSIVE
    upstream = upstreams(spec, found)
    known = Callers(spec, target)
    sources: dict[tuple[str, str], str] = {}
    open_services: list[str] = []
    for key, svc in spec.services.items():
        proto = protocol(spec, key, found)
        mode = service_mtls(spec, key, found)
        effective = mode or spec.mesh.mtls.mode
        permissive |= effective is MtlsMode.PERMISSIVE
        defaults = service_defaults(spec, key, proto, mode, upstream, found)
        made: list[dict[str, Any]] = [defaults]
        res = resolver(spec, key, found)
        if res is not None:
            made.append(res)
        if svc.spec.routes and proto == "tcp":
            found.report(
                C.ROUTES_ON_TCP,
                key,
                ("spec", "routes"),
                "the routes are left out: every request goes to the service",
                hint="",
            )
        elif svc.spec.routes:
            _routed_resilience(spec, key, found)
            routing = chain(spec, key, found, version)
            for name, splitter in routing.splitters:
                made.append(virtual_defaults(name))
                made.append(splitter)
            if routing.router is not None:
                made.append(routing.router)
        authz = svc.spec.authorization
        if authz is None:
            open_services.append(svc.metadata.name)
        else:
            if effective is MtlsMode.PERMISSIVE:
                found.report(
                    C.PERMISSIVE_SKIPS_INTENTIONS,
                    key,
                    ("spec", "authorization"),
                    "a plaintext caller reaches the service whatever the rules say",
                    hint="use STRICT mTLS for a service with authorization",
                )
            entry = intentions(spec, key, found, proto != "tcp", known)
            if entry is not None:
                made.append(entry)
        for made_entry in made:
            sources[(str(made_entry["kind"]), str(made_entry["Name"]))] = source_of(spec, key)
        out.extend(made)
    if open_services:
        found.report(
            C.DEFAULT_POLICY,
            "",
            (),
            f"{', '.join(sorted(open_services))}: no intentions are written; every caller is "
            "allowed where acl.default_policy is allow (the default without ACLs)",
            hint="give the service an authorization block to write its intentions",
        )
    out.append(mesh(permissive))
    found.report(
        C.GLOBAL_ENTRIES,
        "",
        (),
        "proxy-defaults 'global' and the mesh entry replace the ones in place",
        hint="",
    )
    rank = {k: i for i, k in enumerate(ENTRY_KINDS)}
    out.sort(key=lambda e: (rank[str(e["kind"])], str(e["Name"])))
    for e in out:
        where = sources.get((str(e["kind"]), str(e["Name"])))
        if where is not None:
            e.setdefault("Meta", {})
            e["Meta"] = {SOURCE_META: where, **e["Meta"]}
    return out, found.diagnostics


def _routed_resilience(spec: Spec, key: str, found: CompileContext) -> None:
    """Consul builds every cluster of a discovery chain from the caller's upstream config
    for the chain's service (consul `agent/xds/clusters.go`,
    `makeUpstreamClustersForDiscoveryChain` takes the one upstream's config for all targets)."""
    svc = spec.service(key)
    own = svc.spec.resilience
    for i, route in enumerate(svc.spec.routes):
        for j, b in enumerate(route.backends):
            other = spec.resolve(b.service, svc.metadata.namespace) if b.service else None
            if other is not None and other != key and spec.service(other).spec.resilience != own:
                found.report(
                    C.ROUTED_RESILIENCE,
                    key,
                    ("spec", "routes", i, "backends", j),
                    f"requests routed to {spec.service(other).metadata.name} get the limits and "
                    f"health check callers set for {svc.metadata.name}",
                    hint="give both services the same resilience",
                )


def _check_names(spec: Spec, found: CompileContext) -> None:
    seen: dict[str, str] = {}
    namespaces = sorted({svc.metadata.namespace for svc in spec})
    for key, svc in spec.services.items():
        other = seen.setdefault(svc.metadata.name, key)
        if other != key:
            found.report(
                C.NAME_CLASH,
                key,
                ("metadata", "name"),
                f"{key} and {other} would be one Consul service",
                hint="rename one of them",
            )
    if namespaces != ["default"]:
        found.report(
            C.NAMESPACES_FLATTENED,
            "",
            (),
            f"namespaces {', '.join(namespaces)} become Consul's one namespace 'default'",
            hint="",
        )


def k8s_resources(entries: list[dict[str, Any]], spec: Spec) -> list[dict[str, Any]]:
    """The consul-k8s resources of the entries, in the same order; Meta becomes annotations."""
    namespaces = {svc.metadata.name: svc.metadata.namespace for svc in spec}
    out = []
    for e in entries:
        name = str(e["Name"])
        base = name.split("--")[0]
        meta = e.get("Meta") or {}
        notes = {k: str(v) for k, v in meta.items() if k.startswith((NAMES_META, SOURCE_META))}
        ns = "default" if e["kind"] in GLOBAL_NAMES else namespaces.get(base, "default")
        out.append(to_crd(e, ns, notes))
    return out

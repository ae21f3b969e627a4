"""Reading GAMMA HTTPRoutes for one request: which routes apply, which backends a rule's
`backendRefs` name, and the request header edits. Shared by the models of targets that
route with HTTPRoutes (`gateway-api`, `linkerd`); each model brings its own precedence.

Sources: gateway-api `site-src/mesh/index.md` (a route applies to requests addressed
to its parent Service; producer routes in the Service's namespace apply to every
client, consumer routes in a client's namespace replace them for that namespace's
clients), `apis/v1/httproute_types.go` (weights are relative, default 1; a
RequestHeaderModifier's `add` appends to existing values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters import _gamma as G
from meshspec.adapter import Topology, Verdict, Workload
from meshspec.semantics import Outcome, Request

#: (service key, version) of a backend; version None: every endpoint of the service
BackendKey = tuple[str, str | None]


def routes_of(resources: Sequence[Mapping[str, Any]]) -> list[G.HttpRoute]:
    """Every HTTPRoute among the resources, sorted as ties are broken when creation times
    are equal (Gateway API: oldest first, then `namespace/name`)."""
    routes = [
        G.parse_route(r)
        for r in resources
        if r.get("kind") == G.HTTPROUTE and str(r.get("apiVersion", "")) == G.API_VERSION
    ]
    return sorted(routes, key=lambda r: (r.namespace, r.name))


def applicable(
    routes: Sequence[G.HttpRoute], workload: Workload, port: int, client_ns: str | None
) -> list[G.HttpRoute]:
    """The routes for a request to `workload` on `port` from a client in `client_ns`."""

    def attached(route: G.HttpRoute) -> bool:
        return any(
            G.is_service_parent(p)
            and p.name == workload.name
            and p.namespace == workload.namespace
            and (p.port is None or p.port == port)
            for p in route.parents
        )

    mine = [r for r in routes if attached(r)]
    consumer = [r for r in mine if client_ns is not None and r.namespace == client_ns]
    if consumer and client_ns != workload.namespace:
        return consumer
    return [r for r in mine if r.namespace == workload.namespace]


def backend_key(topology: Topology, ref: G.BackendRef) -> BackendKey | None:
    """The service (and version) a Service backendRef names, from the platform's Services:
    the service itself, or its per-version Service `<service>-<version>`."""
    if ref.kind != "Service":
        return None
    for key, w in topology.workloads.items():
        if w.namespace != ref.namespace:
            continue
        if w.name == ref.name:
            return (key, None)
        for version in w.versions:
            if G.version_service_name(w.name, version) == ref.name:
                return (key, version)
    return None


def shares(topology: Topology, rule: G.Rule) -> tuple[dict[BackendKey, float], bool]:
    """Traffic share per backend, and whether some weighted backend is invalid."""
    total = sum(b.weight for b in rule.backends)
    out: dict[BackendKey, float] = {}
    invalid = False
    for b in rule.backends:
        key = backend_key(topology, b)
        if key is None:
            invalid = invalid or b.weight > 0
            continue
        if b.weight and total:
            out[key] = round(out.get(key, 0.0) + b.weight / total, 6)
    return out, invalid


def edited(headers: Mapping[str, str], modifier: G.HeaderModifier | None) -> dict[str, str]:
    """The request headers after a RequestHeaderModifier: set replaces, add appends a value
    (read back joined with `,`), remove drops."""
    out = dict(headers)
    if modifier is None:
        return out
    for name, value in modifier.set:
        out[name.lower()] = value
    for name, value in modifier.add:
        key = name.lower()
        out[key] = f"{out[key]},{value}" if key in out else value
    for name in modifier.remove:
        out.pop(name.lower(), None)
    return out


def split_target(target: str) -> tuple[str, str]:
    """(path, query) of a request target, as sent."""
    path, _, query = target.partition("?")
    return path.split("#", 1)[0], query


def resolve(topology: Topology, name: str, client_ns: str | None) -> str | None:
    """The workload a client addresses: `ns/name`, a Kubernetes host name (`name`,
    `name.ns`, `name.ns.svc[.cluster.local]`, any case, trailing dot and port aside),
    resolved in the client's namespace first (cluster DNS search order)."""
    if "/" in name:
        return name if name in topology.workloads else None
    host = name.lower().rstrip(".").rsplit(":", 1)[0] if name.count(":") == 1 else name.lower()
    host = host.rstrip(".")
    parts = host.split(".")
    if len(parts) >= 2:
        if len(parts) > 2 and parts[2:] != ["svc", "cluster", "local"][: len(parts) - 2]:
            return None
        key = f"{parts[1]}/{parts[0]}"
        return key if key in topology.workloads else None
    named = sorted(k for k, w in topology.workloads.items() if w.name == parts[0])
    same = [k for k in named if k.split("/")[0] == client_ns]
    if same:
        return same[0]
    return named[0] if len(named) == 1 else None


@dataclass(frozen=True)
class Addressed:
    """What a request reaches by Kubernetes Service addressing."""

    #: the calling workload (None: a client outside the mesh) and its namespace
    source: str | None
    client_ns: str | None
    #: the addressed workload's key and the workload
    key: str
    workload: Workload
    #: the port asked for, else the workload's first HTTP port
    port: int


def address(topology: Topology, request: Request) -> Addressed | Verdict:
    """The workload and port a request reaches (a short name resolved in the caller's
    namespace first), or the verdict when it reaches none, or a TCP port (no HTTP
    routing there)."""
    source = None if request.source is None else resolve(topology, request.source, None)
    client_ns = None if source is None else topology.workloads[source].namespace
    key = resolve(topology, request.destination, client_ns)
    if key is None:
        return Verdict(Outcome.UNKNOWN_SERVICE, None)
    workload = topology.workloads[key]
    ports = dict(workload.ports)
    if request.port is not None and request.port not in ports:
        return Verdict(Outcome.UNKNOWN_PORT, None)
    port = request.port if request.port is not None else first_http(workload.ports)
    if ports.get(port) == "tcp":
        return Verdict(Outcome.NOT_HTTP, None)
    return Addressed(source, client_ns, key, workload, port)


def first_http(ports: Sequence[tuple[int, str]]) -> int:
    """The port a request that names none reaches: the first HTTP one, else the first."""
    http = [p for p, proto in ports if proto != "tcp"]
    return http[0] if http else ports[0][0]


def neutral_names(resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """`namespace/route#rule` (what the models report) -> the neutral route it holds."""
    out: dict[str, str] = {}
    for route in routes_of(resources):
        for i in range(len(route.rules)):
            neutral = route.neutral_route(i)
            if neutral is not None:
                out[f"{route.key}#{i}"] = neutral
    return out

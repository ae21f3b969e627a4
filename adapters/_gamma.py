"""Gateway API HTTPRoutes with Service parents (GAMMA), shared by every target that
writes or reads them (`gateway-api`, `linkerd`).

Two halves: the typed native resources (`HttpRoute` and its parts, parsed from
plain dicts so models and importers read one shape), and the builder that turns
one neutral route into an HTTPRoute rule. Only `gateway.networking.k8s.io/v1`
fields of Gateway API 1.2.1's standard channel are written: Linkerd 2.20
ignores a route that uses anything newer (linkerd.io `features/gateway-api.md`),
and every GAMMA mesh reads that subset.

Sources: kubernetes-sigs/gateway-api `apis/v1/httproute_types.go` (matches,
defaults, limits: 16 rules per route, 16 backendRefs per rule, timeouts),
`apis/v1/shared_types.go` (ParentReference, weights),
`site-src/mesh/index.md` (Service parents, producer and consumer routes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters._k8s import duration, metadata, source_of, workload_selector
from meshspec.durations import parse_duration
from meshspec.spec import (
    Backend,
    HeaderMatch,
    Port,
    Protocol,
    QueryParamMatch,
    Route,
    RouteMatch,
    Spec,
)
from meshspec.spec.bundle import PathKey

GROUP = "gateway.networking.k8s.io"
API_VERSION = f"{GROUP}/v1"
HTTPROUTE = "HTTPRoute"
#: The neutral route each rule holds, in rule order (`""`: no neutral route, a default).
ROUTES_ANNOTATION = "meshspec.io/routes"
#: The spec's request timeout when a route sets none (docs/spec.md); GAMMA leaves an
#: unset timeout to the implementation, so the compilers always write it.
DEFAULT_TIMEOUT = 15.0
MAX_RULES = 16
MAX_BACKENDS = 16

#: Reports a neutral field the builder could not write: (spec path, message).
Lost = Callable[[PathKey, str], None]


# --- typed native resources -------------------------------------------------


@dataclass(frozen=True)
class NativeMatch:
    """One `HTTPRouteMatch`: path (type, value), method, header and query conditions
    as (type, name, value); names of headers are lower case."""

    path_type: str = "PathPrefix"
    path_value: str = "/"
    method: str | None = None
    headers: tuple[tuple[str, str, str], ...] = ()
    query: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class BackendRef:
    name: str
    namespace: str
    port: int | None
    weight: int = 1
    kind: str = "Service"


@dataclass(frozen=True)
class HeaderModifier:
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    matches: tuple[NativeMatch, ...]
    backends: tuple[BackendRef, ...]
    #: None: not set; 0: disabled
    request_timeout: float | None = None
    backend_timeout: float | None = None
    header_modifier: HeaderModifier | None = None
    #: filters other than RequestHeaderModifier, by type
    other_filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParentRef:
    kind: str
    name: str
    namespace: str
    port: int | None
    group: str = ""


@dataclass(frozen=True)
class HttpRoute:
    namespace: str
    name: str
    parents: tuple[ParentRef, ...]
    rules: tuple[Rule, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    api_version: str = API_VERSION

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def neutral_route(self, index: int) -> str | None:
        """The neutral route name rule `index` holds (empty: none; None: a route the
        compiler did not write, which names no neutral route)."""
        names = self.annotations.get(ROUTES_ANNOTATION)
        if names is None:
            return None
        parts = names.split(",")
        return parts[index] if index < len(parts) else ""


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _duration(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(str(value))
    except ValueError:
        return None


def parse_match(data: Mapping[str, Any]) -> NativeMatch:
    path = _map(data.get("path"))
    headers = tuple(
        (str(h.get("type", "Exact")), str(h.get("name", "")).lower(), str(h.get("value", "")))
        for h in map(_map, _seq(data.get("headers")))
    )
    query = tuple(
        (str(q.get("type", "Exact")), str(q.get("name", "")), str(q.get("value", "")))
        for q in map(_map, _seq(data.get("queryParams")))
    )
    method = data.get("method")
    return NativeMatch(
        path_type=str(path.get("type", "PathPrefix")),
        path_value=str(path.get("value", "/")),
        method=None if method is None else str(method),
        headers=headers,
        query=query,
    )


def parse_rule(data: Mapping[str, Any], namespace: str) -> Rule:
    matches = tuple(parse_match(_map(m)) for m in _seq(data.get("matches"))) or (NativeMatch(),)
    backends = tuple(
        BackendRef(
            name=str(b.get("name", "")),
            namespace=str(b.get("namespace") or namespace),
            port=int(b["port"]) if isinstance(b.get("port"), int) else None,
            weight=int(b.get("weight", 1)) if isinstance(b.get("weight", 1), int) else 1,
            kind=str(b.get("kind", "Service")),
        )
        for b in map(_map, _seq(data.get("backendRefs")))
    )
    timeouts = _map(data.get("timeouts"))
    modifier = None
    others = []
    for f in map(_map, _seq(data.get("filters"))):
        if f.get("type") == "RequestHeaderModifier":
            mod = _map(f.get("requestHeaderModifier"))
            modifier = HeaderModifier(
                set=tuple(
                    (str(h.get("name")), str(h.get("value")))
                    for h in map(_map, _seq(mod.get("set")))
                ),
                add=tuple(
                    (str(h.get("name")), str(h.get("value")))
                    for h in map(_map, _seq(mod.get("add")))
                ),
                remove=tuple(str(n) for n in _seq(mod.get("remove"))),
            )
        else:
            others.append(str(f.get("type", "")))
    return Rule(
        matches=matches,
        backends=backends,
        request_timeout=_duration(timeouts.get("request")),
        backend_timeout=_duration(timeouts.get("backendRequest")),
        header_modifier=modifier,
        other_filters=tuple(others),
    )


def parse_route(doc: Mapping[str, Any]) -> HttpRoute:
    meta = _map(doc.get("metadata"))
    namespace = str(meta.get("namespace") or "default")
    spec = _map(doc.get("spec"))
    parents = tuple(
        ParentRef(
            kind=str(p.get("kind", "Gateway")),
            name=str(p.get("name", "")),
            namespace=str(p.get("namespace") or namespace),
            port=int(p["port"]) if isinstance(p.get("port"), int) else None,
            group=str(p.get("group", GROUP)),
        )
        for p in map(_map, _seq(spec.get("parentRefs")))
    )
    rules = tuple(parse_rule(_map(r), namespace) for r in _seq(spec.get("rules")))
    return HttpRoute(
        namespace=namespace,
        name=str(meta.get("name", "")),
        parents=parents,
        rules=rules,
        annotations=_str_map(meta.get("annotations")),
        api_version=str(doc.get("apiVersion", API_VERSION)),
    )


def is_service_parent(parent: ParentRef) -> bool:
    return parent.kind == "Service" and parent.group in ("", "core")


# --- matching a request, as every reader of the spec agrees -----------------


def prefix_length(prefix: str, path: str) -> int | None:
    """Characters of a segment-wise `PathPrefix` match, None when it does not match
    ("/abc" matches /abc, /abc/ and /abc/d, never /abcd; a trailing "/" is ignored)."""
    p = prefix.rstrip("/")
    if not p:
        return 1
    if path == p or path.startswith(p + "/"):
        return len(p)
    return None


def anchored(pattern: str, value: str) -> bool:
    """A regex that must cover the whole value (RE2 syntax, which Python reads alike for
    the patterns the spec accepts)."""
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


def query_value(query: str, name: str) -> str | None:
    """The first value of a query parameter (Gateway API: the first entry counts)."""
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


# --- building rules from the neutral spec ------------------------------------


def version_service_name(service: str, version: str) -> str:
    """A version is a Service of its own selecting the version's pods (GAMMA)."""
    return f"{service}-{version}"


def http_ports(ports: Sequence[Port]) -> list[Port]:
    return [p for p in ports if p.protocol is not Protocol.TCP]


def backend_port(spec: Spec, key: str, port: int) -> int:
    """The port a backend Service is reached on: the same number when it has it, else its
    first HTTP port (as the spec means a backend reached from another service)."""
    ports = spec.service(key).spec.ports
    if any(p.port == port for p in ports):
        return port
    http = http_ports(ports)
    return (http or list(ports))[0].port


def native_match(match: RouteMatch, path: PathKey, lost: Lost) -> dict[str, Any]:
    """One neutral match as an `HTTPRouteMatch`; what Gateway API lacks goes to `lost`."""
    out: dict[str, Any] = {}
    p = match.path
    if p is None or p.prefix is not None:
        value = "/" if p is None or p.prefix is None else (p.prefix.rstrip("/") or "/")
        out["path"] = {"type": "PathPrefix", "value": value}
    elif p.exact is not None:
        out["path"] = {"type": "Exact", "value": p.exact}
    else:
        out["path"] = {"type": "RegularExpression", "value": p.regex}
    headers = [_header(h, (*path, "headers", i)) for i, h in enumerate(match.headers)]
    if headers:
        out["headers"] = headers
    if match.query_params:
        out["queryParams"] = [_query(q) for q in match.query_params]
    if match.method is not None:
        out["method"] = match.method
    return out


def _header(h: HeaderMatch, path: PathKey) -> dict[str, Any]:
    """Exact stays exact; prefix and presence become full-match regexes (the dialect all
    GAMMA meshes share for these two forms)."""
    if h.exact is not None:
        return {"type": "Exact", "name": h.name, "value": h.exact}
    if h.prefix is not None:
        return {"type": "RegularExpression", "name": h.name, "value": re.escape(h.prefix) + ".*"}
    if h.regex is not None:
        return {"type": "RegularExpression", "name": h.name, "value": h.regex}
    return {"type": "RegularExpression", "name": h.name, "value": ".*"}


def _query(q: QueryParamMatch) -> dict[str, Any]:
    if q.exact is not None:
        return {"type": "Exact", "name": q.name, "value": q.exact}
    return {"type": "RegularExpression", "name": q.name, "value": q.regex or ".*"}


def backend_refs(
    spec: Spec, key: str, port: int, backends: Iterable[Backend]
) -> list[dict[str, Any]]:
    svc = spec.service(key)
    namespace = svc.metadata.namespace
    refs: list[dict[str, Any]] = []
    for b in backends:
        target = key if b.service is None else spec.resolve(b.service, namespace)
        if target is None:
            continue
        tsvc = spec.service(target)
        name = tsvc.metadata.name
        if b.version is not None:
            name = version_service_name(name, b.version)
        ref: dict[str, Any] = {"group": "", "kind": "Service", "name": name}
        if tsvc.metadata.namespace != namespace:
            ref["namespace"] = tsvc.metadata.namespace
        ref["port"] = backend_port(spec, target, port)
        ref["weight"] = b.weight
        refs.append(ref)
    if not refs:
        refs = [
            {
                "group": "",
                "kind": "Service",
                "name": svc.metadata.name,
                "port": port,
                "weight": 1,
            }
        ]
    return refs


def header_filter(route: Route) -> list[dict[str, Any]]:
    edits = route.request_headers
    if edits is None or not (edits.set or edits.add or edits.remove):
        return []
    mod: dict[str, Any] = {}
    if edits.set:
        mod["set"] = [{"name": n, "value": v} for n, v in edits.set.items()]
    if edits.add:
        mod["add"] = [{"name": n, "value": v} for n, v in edits.add.items()]
    if edits.remove:
        mod["remove"] = list(edits.remove)
    return [{"type": "RequestHeaderModifier", "requestHeaderModifier": mod}]


def build_rule(
    spec: Spec,
    key: str,
    port: int,
    route: Route,
    index: int,
    matches: Sequence[int] | None,
    lost: Lost,
    *,
    backend_timeout: float | None = None,
) -> dict[str, Any]:
    """The rule of neutral route `index` with the given match indexes (None: all). The
    request timeout is always written (the spec's 15 s default, or `0s` when disabled)."""
    base: PathKey = ("spec", "routes", index)
    chosen = range(len(route.matches)) if matches is None else matches
    rule: dict[str, Any] = {}
    if route.matches:
        rule["matches"] = [
            native_match(route.matches[i], (*base, "matches", i), lost) for i in chosen
        ]
    else:
        rule["matches"] = [{"path": {"type": "PathPrefix", "value": "/"}}]
    filters = header_filter(route)
    if filters:
        rule["filters"] = filters
    refs = backend_refs(spec, key, port, route.backends)
    if len(refs) > MAX_BACKENDS:
        lost((*base, "backends"), f"more than {MAX_BACKENDS} backends: the rest are left out")
        refs = refs[:MAX_BACKENDS]
    rule["backendRefs"] = refs
    timeout = DEFAULT_TIMEOUT if route.timeout is None else route.timeout
    timeouts = {"request": duration(timeout)}
    if backend_timeout is not None and (timeout == 0 or backend_timeout <= timeout):
        timeouts["backendRequest"] = duration(backend_timeout)
    rule["timeouts"] = timeouts
    return rule


def default_rule(spec: Spec, key: str, port: int) -> dict[str, Any]:
    """Everything to the service itself with the spec's 15 s timeout: what a service
    without routes means."""
    return {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": backend_refs(spec, key, port, ()),
        "timeouts": {"request": duration(DEFAULT_TIMEOUT)},
    }


def http_route(
    spec: Spec,
    key: str,
    name: str,
    port: int | None,
    rules: Sequence[dict[str, Any]],
    neutral: Sequence[str],
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A producer route: in the service's namespace, its Service as the only parent."""
    svc = spec.service(key)
    parent: dict[str, Any] = {"group": "", "kind": "Service", "name": svc.metadata.name}
    if port is not None:
        parent["port"] = port
    extra = {ROUTES_ANNOTATION: ",".join(neutral), **dict(annotations or {})}
    return {
        "apiVersion": API_VERSION,
        "kind": HTTPROUTE,
        "metadata": metadata(name, svc.metadata.namespace, source_of(spec, key), **extra),
        "spec": {"parentRefs": [parent], "rules": list(rules)},
    }


def version_services(spec: Spec) -> list[dict[str, Any]]:
    """One Service per version, selecting the service's pods of that version, with the
    service's ports: what a weighted `backendRef` to a version names."""
    out = []
    for key, svc in spec.services.items():
        for version in svc.spec.versions:
            selector = {**workload_selector(svc.metadata.name), **version.selector}
            ports = [
                {
                    "name": p.name or f"{p.protocol}-{p.port}",
                    "port": p.port,
                    "targetPort": p.workload_port,
                    "protocol": "TCP",
                    "appProtocol": str(p.protocol),
                }
                for p in svc.spec.ports
            ]
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": metadata(
                        version_service_name(svc.metadata.name, version.name),
                        svc.metadata.namespace,
                        source_of(spec, key, ("spec", "versions")),
                    ),
                    "spec": {"selector": selector, "ports": ports},
                }
            )
    return out


def route_name_of(service: str, port: int | None, several_ports: bool) -> str:
    return f"{service}-{port}" if several_ports and port is not None else service

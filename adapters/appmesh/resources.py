"""App Mesh's resources as one typed model, whatever form they were written in.

Every reader (CloudFormation, Terraform, AWS CLI/API JSON, controller CRDs)
turns its input into the App Mesh API's own shape (camelCase names as in the
API reference, `meshName` / `virtualNodeName` / `spec`), and `parse` reads that
shape through an allow-list (`KNOWN`) into the classes below. A field outside
the list becomes MS3004 with its file:line; a value of the wrong type MS3006.

The constants are App Mesh's documented defaults and limits:

* Route `priority` 0-1000, 0 highest; routes are matched in priority order,
  first match wins (API reference `RouteSpec.priority`,
  https://docs.aws.amazon.com/app-mesh/latest/APIReference/API_RouteSpec.html).
* `weightedTargets`: 1-10 targets, integer weights 0-100 (`WeightedTarget`,
  `HttpRouteAction` in the API reference; user guide `routes.md`).
* Timeouts: `perRequest` 15 s and `idle` 300 s on routes and on virtual-node
  listeners when not set; 0 disables (user guide `routes.md`, `virtual_nodes.md`;
  API reference `HttpTimeout`).
* Hidden default retry policy (not visible in the API): max 2 retries on HTTP
  503, gRPC UNAVAILABLE, TCP connect-failure and refused-stream, for every HTTP,
  HTTP/2 and gRPC Envoy route of accounts that had no mesh before 2020-07-29
  (user guide "Envoy defaults set by App Mesh",
  https://docs.aws.amazon.com/app-mesh/latest/userguide/envoy-defaults.html).
  Whether an account has it is a setting (`Settings.default_retries`).
* Mesh `egressFilter.type` DROP_ALL by default (API reference `EgressFilter`).
* Controller CRD names: `awsName` defaults to `${name}.${namespace}` for a
  VirtualService and `${name}_${namespace}` for the other kinds
  (aws-app-mesh-controller-for-k8s `config/crd/bases/*.yaml`, v1.13.3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from adapters.appmesh import codes as C
from meshspec.diagnostics import Diagnostic, Location
from meshspec.spec import Origin
from meshspec.spec.bundle import PathKey

PRIORITY_MIN, PRIORITY_MAX = 0, 1000
MAX_TARGETS = 10
WEIGHT_MAX = 100
DEFAULT_PER_REQUEST = 15.0
DEFAULT_IDLE = 300.0
DEFAULT_RETRY_MAX = 2
DEFAULT_RETRY_HTTP_STATUS = (503,)
DEFAULT_RETRY_TCP = ("connect-failure", "refused-stream")
DEFAULT_RETRY_GRPC = ("unavailable",)
HTTP_RETRY_EVENTS = ("server-error", "gateway-error", "client-error", "stream-error")
TCP_RETRY_EVENTS = ("connection-error",)
GRPC_RETRY_EVENTS = (
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
)
ROUTE_KINDS = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute")
KINDS = ("Mesh", "VirtualService", "VirtualRouter", "Route", "VirtualNode")
#: kinds App Mesh has that carry no east-west policy the neutral spec holds
OTHER_KINDS = ("VirtualGateway", "GatewayRoute", "BackendGroup")

TARGET = "appmesh"


@dataclass(frozen=True)
class Settings:
    """What the App Mesh API does not show. `default_retries`: the account had no mesh
    before 2020-07-29 (or support turned the default on), so every HTTP/gRPC route
    without a retry policy retries as `DEFAULT_RETRY_*` says."""

    default_retries: bool = True


#: an account with no mesh before 2020-07-29: the hidden default retry policy applies
NEW_ACCOUNT = Settings()


@dataclass(frozen=True)
class Mesh:
    name: str
    egress_filter: str = "DROP_ALL"
    where: Location | None = None


@dataclass(frozen=True)
class VirtualService:
    mesh: str
    name: str
    provider_node: str | None = None
    provider_router: str | None = None
    where: Location | None = None


@dataclass(frozen=True)
class Timeouts:
    per_request: float | None = None  #: None: the 15 s default
    idle: float | None = None


@dataclass(frozen=True)
class ListenerTls:
    mode: str  #: STRICT | PERMISSIVE | DISABLED
    certificate: str  #: acm | file | sds
    #: exact SANs a client certificate must carry; None: no client validation
    client_sans: tuple[str, ...] | None = None
    validates_clients: bool = False
    #: the SDS secret of the trust bundle (`spiffe://<trust domain>` with SPIRE)
    trust_sds: str | None = None


@dataclass(frozen=True)
class Outlier:
    max_server_errors: int
    interval: float
    base_ejection: float
    max_ejection_percent: int


@dataclass(frozen=True)
class Pool:
    protocol: str
    max_connections: int | None = None
    max_pending_requests: int | None = None
    max_requests: int | None = None


@dataclass(frozen=True)
class Listener:
    port: int
    protocol: str
    tls: ListenerTls | None = None
    timeout: Timeouts = Timeouts()
    outlier: Outlier | None = None
    pool: Pool | None = None
    where: Location | None = None


@dataclass(frozen=True)
class ClientTls:
    """A client policy's TLS (API reference `ClientPolicyTls`): `enforce` is "whether
    the policy is enforced" (default true) and `ports` "one or more ports that the policy
    is enforced for" (all when empty)."""

    enforce: bool = True
    ports: tuple[int, ...] = ()
    has_certificate: bool = False  #: presents a client certificate (mutual TLS)
    server_sans: tuple[str, ...] | None = None

    def applies(self, port: int) -> bool:
        """Does the client originate TLS towards this listener port? Not when the policy
        is not enforced, nor on a port outside `ports` (ASSUMPTION, semantics.md
        UNVERIFIED: App Mesh says only "whether the policy is enforced"; a policy not
        enforced is read as no TLS from the client, the reading under which the import's
        check refuses rather than widens)."""
        return self.enforce and (not self.ports or port in self.ports)


@dataclass(frozen=True)
class Backend:
    virtual_service: str
    tls: ClientTls | None = None


@dataclass(frozen=True)
class VirtualNode:
    mesh: str
    name: str
    hostname: str | None = None
    cloud_map: Mapping[str, str] | None = None
    listeners: tuple[Listener, ...] = ()
    backends: tuple[Backend, ...] = ()
    default_tls: ClientTls | None = None
    #: pod labels of a controller VirtualNode (`podSelector.matchLabels`)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    where: Location | None = None
    #: settings read but outside the neutral spec (named for the import's report)
    not_carried: tuple[str, ...] = ()


@dataclass(frozen=True)
class VirtualRouter:
    mesh: str
    name: str
    listeners: tuple[tuple[int, str], ...] = ()
    where: Location | None = None


@dataclass(frozen=True)
class HeaderMatch:
    name: str
    kind: str  #: exact | prefix | suffix | regex | range | present (no match given)
    value: str = ""
    range: tuple[int, int] | None = None  #: [start, end)
    invert: bool = False


@dataclass(frozen=True)
class RouteMatch:
    prefix: str | None = None
    exact: str | None = None
    regex: str | None = None
    method: str | None = None
    scheme: str | None = None
    port: int | None = None
    headers: tuple[HeaderMatch, ...] = ()
    #: (name, exact value or None for presence)
    query: tuple[tuple[str, str | None], ...] = ()
    #: gRPC routes: service and method name
    grpc_service: str | None = None
    grpc_method: str | None = None


@dataclass(frozen=True)
class WeightedTarget:
    node: str
    weight: int
    port: int | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    per_retry_timeout: float | None
    http_events: tuple[str, ...] = ()
    tcp_events: tuple[str, ...] = ()
    grpc_events: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    mesh: str
    router: str
    name: str
    protocol: str  #: httpRoute | http2Route | grpcRoute | tcpRoute
    priority: int | None = None
    match: RouteMatch = RouteMatch()
    targets: tuple[WeightedTarget, ...] = ()
    retry: RetryPolicy | None = None
    timeout: Timeouts = Timeouts()
    where: Location | None = None


@dataclass
class AppMesh:
    """Every resource read, by name, in the order first seen."""

    meshes: dict[str, Mesh] = field(default_factory=dict)
    services: dict[str, VirtualService] = field(default_factory=dict)
    routers: dict[str, VirtualRouter] = field(default_factory=dict)
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    nodes: dict[str, VirtualNode] = field(default_factory=dict)

    def routes_of(self, router: str) -> list[Route]:
        """A router's routes in App Mesh's matching order: priority, 0 first; routes
        without a priority after them, by name (App Mesh leaves their order unspecified,
        MS3101 says so)."""
        mine = [r for (rt, _), r in self.routes.items() if rt == router]
        return sorted(mine, key=lambda r: (r.priority is None, r.priority or 0, r.name))

    def add(self, resource: object, report: Callable[[Diagnostic], None]) -> None:
        key: Any
        if isinstance(resource, Mesh):
            table, key = cast(dict[Any, Any], self.meshes), resource.name
        elif isinstance(resource, VirtualService):
            table, key = cast(dict[Any, Any], self.services), resource.name
        elif isinstance(resource, VirtualRouter):
            table, key = cast(dict[Any, Any], self.routers), resource.name
        elif isinstance(resource, Route):
            table, key = cast(dict[Any, Any], self.routes), (resource.router, resource.name)
        elif isinstance(resource, VirtualNode):
            table, key = cast(dict[Any, Any], self.nodes), resource.name
        else:
            raise TypeError(type(resource))
        if key in table:
            where = getattr(resource, "where", None)
            report(C.DUPLICATE(f"{type(resource).__name__} {key} read twice", location=where))
        table[key] = resource


# --- allow-list: the App Mesh API shape, per kind, by field path (lists are transparent)

_DURATION = frozenset({"unit", "value"})
_TIMEOUT = {"perRequest": _DURATION, "idle": _DURATION}
_MATCH = frozenset({"exact", "prefix", "suffix", "regex", "range"})
_CERT = frozenset({"acm", "file", "sds"})
_TRUST = frozenset({"acm", "file", "sds"})


def _tree(spec: Mapping[str, Any]) -> dict[PathKey, frozenset[str]]:
    """{"a": {"b": None}} -> {(): {"a"}, ("a",): {"b"}}; a leaf is None or a frozenset."""
    out: dict[PathKey, frozenset[str]] = {}

    def walk(node: Mapping[str, Any] | frozenset[str], path: PathKey) -> None:
        if isinstance(node, frozenset):
            out[path] = node
            return
        out[path] = frozenset(node)
        for name, inner in node.items():
            if inner is not None:
                walk(inner, (*path, name))

    walk(spec, ())
    return out


_SAN = {"match": {"exact": None}}
_VALIDATION = {
    "trust": {
        "acm": frozenset({"certificateAuthorityArns"}),
        "file": frozenset({"certificateChain"}),
        "sds": frozenset({"secretName"}),
    },
    "subjectAlternativeNames": _SAN,
}
_CLIENT_POLICY = {
    "tls": {
        "enforce": None,
        "ports": None,
        "certificate": {
            "file": frozenset({"certificateChain", "privateKey"}),
            "sds": frozenset({"secretName"}),
        },
        "validation": _VALIDATION,
    }
}
_HTTP_MATCH = {
    "prefix": None,
    "path": frozenset({"exact", "regex"}),
    "method": None,
    "scheme": None,
    "port": None,
    "headers": {
        "name": None,
        "invert": None,
        "match": {**{k: None for k in _MATCH}, "range": frozenset({"start", "end"})},
    },
    "queryParameters": {"name": None, "match": frozenset({"exact"})},
}
_ACTION = {"weightedTargets": frozenset({"virtualNode", "weight", "port"})}
_HTTP_ROUTE = {
    "match": _HTTP_MATCH,
    "action": _ACTION,
    "retryPolicy": {
        "maxRetries": None,
        "perRetryTimeout": _DURATION,
        "httpRetryEvents": None,
        "tcpRetryEvents": None,
    },
    "timeout": _TIMEOUT,
}
_GRPC_ROUTE = {
    "match": {
        "serviceName": None,
        "methodName": None,
        "port": None,
        "metadata": {
            "name": None,
            "invert": None,
            "match": {**{k: None for k in _MATCH}, "range": frozenset({"start", "end"})},
        },
    },
    "action": _ACTION,
    "retryPolicy": {
        "maxRetries": None,
        "perRetryTimeout": _DURATION,
        "httpRetryEvents": None,
        "tcpRetryEvents": None,
        "grpcRetryEvents": None,
    },
    "timeout": _TIMEOUT,
}
_TCP_ROUTE = {"match": frozenset({"port"}), "action": _ACTION, "timeout": {"idle": _DURATION}}
_META = frozenset(
    {
        "meshName",
        "meshOwner",
        "resourceOwner",
        "arn",
        "version",
        "uid",
        "createdAt",
        "lastUpdatedAt",
        "status",
        "metadata",
        "tags",
        "clientToken",
    }
)
_LISTENER = {
    "portMapping": frozenset({"port", "protocol"}),
    "tls": {
        "mode": None,
        "certificate": {
            "acm": frozenset({"certificateArn"}),
            "file": frozenset({"certificateChain", "privateKey"}),
            "sds": frozenset({"secretName"}),
        },
        "validation": _VALIDATION,
    },
    "healthCheck": frozenset(
        {
            "protocol",
            "path",
            "port",
            "healthyThreshold",
            "unhealthyThreshold",
            "timeoutMillis",
            "intervalMillis",
        }
    ),
    "outlierDetection": {
        "maxServerErrors": None,
        "interval": _DURATION,
        "baseEjectionDuration": _DURATION,
        "maxEjectionPercent": None,
    },
    "connectionPool": {
        "tcp": frozenset({"maxConnections"}),
        "http": frozenset({"maxConnections", "maxPendingRequests"}),
        "http2": frozenset({"maxRequests"}),
        "grpc": frozenset({"maxRequests"}),
    },
    "timeout": {p: _TIMEOUT for p in ("http", "http2", "grpc")} | {"tcp": {"idle": _DURATION}},
}

KNOWN: Mapping[str, dict[PathKey, frozenset[str]]] = {
    "Mesh": _tree(
        {
            **dict.fromkeys(_META),
            "spec": {
                "egressFilter": frozenset({"type"}),
                "serviceDiscovery": frozenset({"ipPreference"}),
            },
        }
    ),
    "VirtualService": _tree(
        {
            **dict.fromkeys(_META),
            "virtualServiceName": None,
            "spec": {
                "provider": {
                    "virtualNode": frozenset({"virtualNodeName"}),
                    "virtualRouter": frozenset({"virtualRouterName"}),
                }
            },
        }
    ),
    "VirtualRouter": _tree(
        {
            **dict.fromkeys(_META),
            "virtualRouterName": None,
            "spec": {"listeners": {"portMapping": frozenset({"port", "protocol"})}},
        }
    ),
    "Route": _tree(
        {
            **dict.fromkeys(_META),
            "virtualRouterName": None,
            "routeName": None,
            "spec": {
                "priority": None,
                "httpRoute": _HTTP_ROUTE,
                "http2Route": _HTTP_ROUTE,
                "grpcRoute": _GRPC_ROUTE,
                "tcpRoute": _TCP_ROUTE,
            },
        }
    ),
    "VirtualNode": _tree(
        {
            **dict.fromkeys(_META),
            "virtualNodeName": None,
            "podLabels": None,
            "spec": {
                "listeners": _LISTENER,
                "backends": {
                    "virtualService": {"virtualServiceName": None, "clientPolicy": _CLIENT_POLICY}
                },
                "backendDefaults": {"clientPolicy": _CLIENT_POLICY},
                "serviceDiscovery": {
                    "dns": frozenset({"hostname", "responseType", "ipPreference"}),
                    "awsCloudMap": {
                        "namespaceName": None,
                        "serviceName": None,
                        "ipPreference": None,
                        "attributes": frozenset({"key", "value"}),
                    },
                },
                "logging": None,
            },
        }
    ),
}
#: maps whose keys are the user's own (labels, tags): never checked
OPEN: frozenset[PathKey] = frozenset({("podLabels",), ("tags",), ("metadata",), ("status",)})


class BadValue(Exception):
    """A value of the wrong type: reported as MS3006 at `path`."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path = path


def unknown_fields(kind: str, data: Mapping[str, Any], origin: Origin) -> list[Diagnostic]:
    """MS3004 for every field of `data` outside App Mesh's API shape for `kind`."""
    known = KNOWN[kind]
    out: list[Diagnostic] = []

    def walk(value: Any, where: PathKey, shape: PathKey) -> None:
        if shape in OPEN:
            return
        allowed = known.get(shape)
        if isinstance(value, Mapping) and allowed is not None:
            for name, inner in value.items():
                if name not in allowed:
                    out.append(
                        C.FIELD_UNKNOWN(
                            f"{kind} field '{name}' is not part of App Mesh's {kind}: dropped",
                            location=origin.locate((*where, name)),
                            path=_dotted((*where, name)),
                            target=TARGET,
                            hint="check the spelling against the App Mesh API reference",
                        )
                    )
                else:
                    walk(inner, (*where, name), (*shape, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*where, i), shape)

    walk(data, (), ())
    return out


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- typed reading (after the allow-list): every accessor checks the type it needs


class _At:
    """A value with its path, for typed access that reports where a type is wrong."""

    def __init__(self, value: Any, path: PathKey = ()) -> None:
        self.value = value
        self.path = path

    def __getitem__(self, name: str) -> _At:
        inner = self.value.get(name) if isinstance(self.value, Mapping) else None
        return _At(inner, (*self.path, name))

    def __bool__(self) -> bool:
        return self.value is not None

    def items(self) -> list[_At]:
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            raise BadValue(self.path, "a list was expected")
        return [_At(v, (*self.path, i)) for i, v in enumerate(self.value)]

    def text(self) -> str | None:
        if self.value is None:
            return None
        if isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
            raise BadValue(self.path, "a string was expected")
        return str(self.value)

    def need_text(self) -> str:
        text = self.text()
        if text is None:
            raise BadValue(self.path, "a value is required here")
        return text

    def number(self, low: int | None = None, high: int | None = None) -> int | None:
        if self.value is None:
            return None
        value = self.value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(self.path, "a whole number was expected")
        if (low is not None and value < low) or (high is not None and value > high):
            raise BadValue(self.path, f"{value} is outside {low}..{high}")
        return value

    def flag(self, default: bool) -> bool:
        if self.value is None:
            return default
        if isinstance(self.value, bool):
            return self.value
        if isinstance(self.value, str) and self.value.lower() in ("true", "false"):
            return self.value.lower() == "true"
        raise BadValue(self.path, "true or false was expected")

    def duration(self) -> float | None:
        """`{value, unit: s|ms}` in seconds."""
        if self.value is None:
            return None
        amount = self["value"].number(0)
        unit = self["unit"].text()
        if amount is None or unit not in ("s", "ms"):
            raise BadValue(self.path, "a duration is {value: N, unit: s|ms}")
        return amount / 1000 if unit == "ms" else float(amount)

    def strings(self) -> tuple[str, ...]:
        return tuple(item.need_text() for item in self.items())


def parse(
    kind: str, data: Mapping[str, Any], origin: Origin, mesh: str = ""
) -> tuple[object | None, list[Diagnostic]]:
    """One resource of App Mesh's API shape -> its typed form, with every finding."""
    diagnostics = unknown_fields(kind, data, origin)
    root = _At(data)
    where = origin.locate(())
    mesh_name = root["meshName"].text() or mesh
    try:
        return _READERS[kind](root, mesh_name, where, origin), diagnostics
    except BadValue as exc:
        diagnostics.append(
            C.BAD_VALUE(
                f"{kind}: {exc}",
                location=origin.locate(exc.path),
                path=_dotted(exc.path),
                target=TARGET,
                hint="the resource is left out; correct the value and import again",
            )
        )
        return None, diagnostics


def _mesh(root: _At, mesh: str, where: Location, origin: Origin) -> Mesh:
    kind = root["spec"]["egressFilter"]["type"].text() or "DROP_ALL"
    if kind not in ("DROP_ALL", "ALLOW_ALL"):
        raise BadValue(("spec", "egressFilter", "type"), "DROP_ALL or ALLOW_ALL")
    return Mesh(root["meshName"].need_text(), kind, where)


def _virtual_service(root: _At, mesh: str, where: Location, origin: Origin) -> VirtualService:
    provider = root["spec"]["provider"]
    return VirtualService(
        mesh,
        root["virtualServiceName"].need_text(),
        provider["virtualNode"]["virtualNodeName"].text(),
        provider["virtualRouter"]["virtualRouterName"].text(),
        where,
    )


def _virtual_router(root: _At, mesh: str, where: Location, origin: Origin) -> VirtualRouter:
    listeners = tuple(
        (li["portMapping"]["port"].number(1, 65535) or 0, li["portMapping"]["protocol"].need_text())
        for li in root["spec"]["listeners"].items()
    )
    return VirtualRouter(mesh, root["virtualRouterName"].need_text(), listeners, where)


def _timeouts(at: _At) -> Timeouts:
    return Timeouts(at["perRequest"].duration(), at["idle"].duration())


def _header(at: _At) -> HeaderMatch:
    name = at["name"].need_text()
    invert = at["invert"].flag(False)
    match = at["match"]
    if not match:
        return HeaderMatch(name, "present", invert=invert)
    for kind in ("exact", "prefix", "suffix", "regex"):
        value = match[kind].text()
        if value is not None:
            return HeaderMatch(name, kind, value, invert=invert)
    span = match["range"]
    if span:
        start, end = span["start"].number(), span["end"].number()
        if start is None or end is None:
            raise BadValue(span.path, "a range has start and end")
        return HeaderMatch(name, "range", range=(start, end), invert=invert)
    raise BadValue(match.path, "a header match is exact, prefix, suffix, regex or range")


def _route(root: _At, mesh: str, where: Location, origin: Origin) -> Route:
    spec = root["spec"]
    protocols = [p for p in ROUTE_KINDS if spec[p]]
    if len(protocols) != 1:
        raise BadValue(spec.path, "a route has exactly one of " + ", ".join(ROUTE_KINDS))
    protocol = protocols[0]
    body = spec[protocol]
    m = body["match"]
    if protocol == "grpcRoute":
        match = RouteMatch(
            port=m["port"].number(1, 65535),
            headers=tuple(_header(h) for h in m["metadata"].items()),
            grpc_service=m["serviceName"].text(),
            grpc_method=m["methodName"].text(),
        )
    elif protocol == "tcpRoute":
        match = RouteMatch(port=m["port"].number(1, 65535))
    else:
        prefix = m["prefix"].text()
        exact, regex = m["path"]["exact"].text(), m["path"]["regex"].text()
        if prefix is not None and not prefix.startswith("/"):
            raise BadValue(m["prefix"].path, "a prefix starts with '/'")
        match = RouteMatch(
            prefix=prefix,
            exact=exact,
            regex=regex,
            method=m["method"].text(),
            scheme=m["scheme"].text(),
            port=m["port"].number(1, 65535),
            headers=tuple(_header(h) for h in m["headers"].items()),
            query=tuple(
                (q["name"].need_text(), q["match"]["exact"].text())
                for q in m["queryParameters"].items()
            ),
        )
    targets = tuple(
        WeightedTarget(
            t["virtualNode"].need_text(),
            t["weight"].number(0, WEIGHT_MAX) or 0,
            t["port"].number(1, 65535),
        )
        for t in body["action"]["weightedTargets"].items()
    )
    if not 1 <= len(targets) <= MAX_TARGETS:
        raise BadValue(body["action"]["weightedTargets"].path, "1 to 10 weighted targets")
    retry = None
    rp = body["retryPolicy"]
    if rp:
        retry = RetryPolicy(
            rp["maxRetries"].number(0) or 0,
            rp["perRetryTimeout"].duration(),
            rp["httpRetryEvents"].strings(),
            rp["tcpRetryEvents"].strings(),
            rp["grpcRetryEvents"].strings(),
        )
    return Route(
        mesh,
        root["virtualRouterName"].need_text(),
        root["routeName"].need_text(),
        protocol,
        spec["priority"].number(PRIORITY_MIN, PRIORITY_MAX),
        match,
        targets,
        retry,
        _timeouts(body["timeout"]),
        where,
    )


def _client_tls(at: _At) -> ClientTls | None:
    tls = at["clientPolicy"]["tls"]
    if not tls:
        return None
    sans = tls["validation"]["subjectAlternativeNames"]["match"]["exact"]
    return ClientTls(
        tls["enforce"].flag(True),
        tuple(p.number(1, 65535) or 0 for p in tls["ports"].items()),
        bool(tls["certificate"]),
        sans.strings() if sans else None,
    )


def _listener(at: _At) -> Listener:
    protocol = at["portMapping"]["protocol"].need_text()
    tls = None
    if at["tls"]:
        t = at["tls"]
        sans = t["validation"]["subjectAlternativeNames"]["match"]["exact"]
        certificate = next((k for k in ("acm", "file", "sds") if t["certificate"][k]), "")
        tls = ListenerTls(
            t["mode"].need_text(),
            certificate,
            sans.strings() if sans else None,
            bool(t["validation"]),
            t["validation"]["trust"]["sds"]["secretName"].text(),
        )
    od = at["outlierDetection"]
    outlier = None
    if od:
        outlier = Outlier(
            od["maxServerErrors"].number(1) or 1,
            od["interval"].duration() or 0.0,
            od["baseEjectionDuration"].duration() or 0.0,
            od["maxEjectionPercent"].number(0, 100) or 0,
        )
    pool = None
    for kind in ("tcp", "http", "http2", "grpc"):
        p = at["connectionPool"][kind]
        if p:
            pool = Pool(
                kind,
                p["maxConnections"].number(1),
                p["maxPendingRequests"].number(1),
                p["maxRequests"].number(1),
            )
    timeout = _timeouts(at["timeout"][protocol]) if protocol != "tcp" else Timeouts()
    return Listener(
        at["portMapping"]["port"].number(1, 65535) or 0, protocol, tls, timeout, outlier, pool
    )


def _virtual_node(root: _At, mesh: str, where: Location, origin: Origin) -> VirtualNode:
    spec = root["spec"]
    sd = spec["serviceDiscovery"]
    cloud_map = None
    if sd["awsCloudMap"]:
        cm = sd["awsCloudMap"]
        cloud_map = {
            "namespace": cm["namespaceName"].text() or "",
            "service": cm["serviceName"].text() or "",
            **{a["key"].need_text(): a["value"].need_text() for a in cm["attributes"].items()},
        }
    labels = root["podLabels"].value
    return VirtualNode(
        mesh,
        root["virtualNodeName"].need_text(),
        sd["dns"]["hostname"].text(),
        cloud_map,
        tuple(_listener(li) for li in spec["listeners"].items()),
        tuple(
            Backend(
                b["virtualService"]["virtualServiceName"].need_text(),
                _client_tls(b["virtualService"]),
            )
            for b in spec["backends"].items()
        ),
        _client_tls(spec["backendDefaults"]),
        {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {},
        where,
        _not_carried(spec),
    )


def _not_carried(spec: _At) -> tuple[str, ...]:
    """What a node sets that the neutral spec has no place for."""
    found = []
    if any(li["healthCheck"] for li in spec["listeners"].items()):
        found.append("active health checks (listeners[].healthCheck)")
    if spec["logging"]:
        found.append("access logging (logging)")
    if spec["serviceDiscovery"]["awsCloudMap"]["attributes"]:
        found.append(
            "Cloud Map attributes that pick the node's instances "
            "(serviceDiscovery.awsCloudMap.attributes): label the version's workloads instead"
        )
    return tuple(found)


_READERS: Mapping[str, Callable[[_At, str, Location, Origin], object]] = {
    "Mesh": _mesh,
    "VirtualService": _virtual_service,
    "VirtualRouter": _virtual_router,
    "Route": _route,
    "VirtualNode": _virtual_node,
}


@dataclass(frozen=True)
class Item:
    """One App Mesh resource in the API's shape, as a form reader found it."""

    kind: str
    data: Mapping[str, Any]
    origin: Origin
    #: the mesh when the input does not name it (CLI input given `--mesh-name` apart)
    mesh: str = ""

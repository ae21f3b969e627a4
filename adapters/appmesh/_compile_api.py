"""Neutral spec -> App Mesh resources in the API's shape (camelCase, names as App Mesh
keeps them). `compiler.py` and `cloudformation.py` write them in their forms.

Names: a service `ns/name` is the virtual service `name.ns.svc.cluster.local`
(the name clients use), its router `name_ns` and its virtual nodes `name-<version>_ns`
(`name_ns` without versions), which is what the controller names them by default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters._k8s import WORKLOAD_LABEL, duration, fqdn
from adapters.appmesh import codes as C
from adapters.appmesh.resources import DEFAULT_PER_REQUEST, MAX_TARGETS, PRIORITY_MAX, TARGET
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec import MtlsMode, Spec
from meshspec.spec.authz import AuthzAction, DefaultAction
from meshspec.spec.bundle import PathKey, dotted
from meshspec.spec.resilience import Resilience
from meshspec.spec.routes import Retries, RetryOn, Route, RouteMatch
from meshspec.spec.service import Protocol, ServiceSpec


@dataclass
class ApiMesh:
    name: str


@dataclass
class ApiNode:
    name: str
    k8s_name: str
    namespace: str
    labels: dict[str, str]
    spec: dict[str, Any]


@dataclass
class ApiRoute:
    name: str
    spec: dict[str, Any]


@dataclass
class ApiRouter:
    name: str
    k8s_name: str
    namespace: str
    listeners: list[dict[str, Any]]
    routes: list[ApiRoute] = field(default_factory=list)


@dataclass
class ApiService:
    name: str
    k8s_name: str
    namespace: str
    router: str | None
    provider: str | None
    provider_k8s: str | None


@dataclass
class ApiResources:
    mesh: ApiMesh
    nodes: list[ApiNode] = field(default_factory=list)
    routers: list[ApiRouter] = field(default_factory=list)
    services: list[ApiService] = field(default_factory=list)

    def k8s_name(self, virtual_service: str) -> str:
        return next(s.k8s_name for s in self.services if s.name == virtual_service)

    def k8s_namespace(self, virtual_service: str) -> str:
        return next(s.namespace for s in self.services if s.name == virtual_service)

    def node_k8s_name(self, node: str) -> str:
        return next(n.k8s_name for n in self.nodes if n.name == node)

    def node_namespace(self, node: str) -> str:
        return next(n.namespace for n in self.nodes if n.name == node)


#: the route written for a service without routes; it holds no neutral route
ALL_ENDPOINTS = "all_endpoints"


def node_name(name: str, namespace: str, version: str | None) -> str:
    return f"{name}-{version}_{namespace}" if version else f"{name}_{namespace}"


def version_host(name: str, namespace: str, version: str | None) -> str:
    """Where a version's endpoints are found (DNS service discovery)."""
    return fqdn(f"{name}-{version}" if version else name, namespace)


def precedence(match: RouteMatch | None) -> tuple[int, int, int, int, int]:
    """The neutral precedence (docs/spec.md "Route precedence"): exact path, then the
    longest prefix, then regex; then a method; then more headers, more query conditions."""
    path = None if match is None else match.path
    if path is None:
        kind, length = 2, 1
    elif path.exact is not None:
        kind, length = 3, len(path.exact)
    elif path.prefix is not None:
        kind, length = 2, len(path.prefix.rstrip("/") or "/")
    else:
        kind, length = 1, len(path.value)
    method = 1 if match is not None and match.method else 0
    headers = len(match.headers) if match is not None else 0
    query = len(match.query_params) if match is not None else 0
    return (-kind, -length, -method, -headers, -query)


class _Compiler:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.diagnostics: list[Diagnostic] = []
        name = spec.mesh_metadata.name if spec.mesh_metadata else "meshspec"
        self.api = ApiResources(ApiMesh(name))
        self.td = spec.mesh.trust_domain

    def lost(self, code: Code, key: str, path: PathKey, message: str, hint: str = "") -> None:
        self.diagnostics.append(
            code(
                message,
                location=self.spec.locate(key, path),
                path=dotted(path),
                target=TARGET,
                hint=hint,
            )
        )

    def mode(self, key: str, port: int) -> MtlsMode:
        mtls = self.spec.service(key).spec.mtls
        if mtls is not None and port in mtls.ports:
            return mtls.ports[port]
        if mtls is not None and mtls.mode is not None:
            return mtls.mode
        return self.spec.mesh.mtls.mode

    # --- per service

    def run(self) -> ApiResources:
        callers = self._callers()
        for key, svc in self.spec.services.items():
            self._service(key, svc.spec, callers)
        return self.api

    def _callers(self) -> dict[str, set[str] | None]:
        """Who may call each service: None = every service (no authorization to keep)."""
        out: dict[str, set[str] | None] = {}
        for key, svc in self.spec.services.items():
            authz = svc.spec.authorization
            if authz is None:
                out[key] = None
                continue
            path: PathKey = ("spec", "authorization")
            deny = [r for r in authz.rules if r.action is AuthzAction.DENY]
            if deny:
                self.lost(
                    C.COMPILE_AUTHZ,
                    key,
                    path,
                    "DENY rules cannot be written: App Mesh has no request authorization",
                    "keep the service on a mesh with "
                    "authorization, or allow the loss with --allow-lossy authz",
                )
            if authz.default is DefaultAction.ALLOW:
                out[key] = None
                continue
            allowed: set[str] = set()
            expressible = True
            for rule in authz.rules:
                if rule.action is not AuthzAction.ALLOW:
                    continue
                if rule.to is not None or not rule.from_ or any(not s.services for s in rule.from_):
                    expressible = False
                    continue
                for source in rule.from_:
                    for ref in source.services:
                        resolved = self.spec.resolve(ref, svc.metadata.namespace)
                        if resolved is not None:
                            allowed.add(resolved)
            where = "as" if expressible else "only 'ALLOW from services' rules, as"
            self.lost(
                C.COMPILE_AUTHZ,
                key,
                path,
                f"written {where} declared backends (egress filter DROP_ALL): the callers' "
                "own Envoys refuse other calls, nothing checks them at the service, and the "
                "rest is left out",
                "allow the loss with --allow-lossy authz to write the declared backends",
            )
            out[key] = allowed
        return out

    def _service(self, key: str, spec: ServiceSpec, callers: dict[str, set[str] | None]) -> None:
        svc = self.spec.service(key)
        ns, name = svc.metadata.namespace, svc.metadata.name
        vs_name = fqdn(name, ns)
        versions = [v.name for v in spec.versions]
        http_ports = [p for p in spec.ports if p.protocol is not Protocol.TCP]
        timeouts = self._listener_timeout(spec.routes)
        node_names: dict[str | None, str] = {}
        each: list[str | None] = [*versions] or [None]
        for version in each:
            node = node_name(name, ns, version)
            node_names[version] = node
            labels = {WORKLOAD_LABEL: name}
            resilience = spec.resilience
            if version is not None:
                v = next(x for x in spec.versions if x.name == version)
                labels |= v.selector
                if v.resilience is not None:
                    # a version's settings override the service's, each on its own
                    resilience = Resilience(
                        outlier_detection=v.resilience.outlier_detection
                        or (spec.resilience.outlier_detection if spec.resilience else None),
                        connection_limits=v.resilience.connection_limits
                        or (spec.resilience.connection_limits if spec.resilience else None),
                    )
            listeners = [
                self._listener(key, p.workload_port, p.port, p.protocol, timeouts, resilience)
                for p in spec.ports
            ]
            self.api.nodes.append(
                ApiNode(
                    node,
                    f"{name}-{version}" if version else name,
                    ns,
                    labels,
                    {
                        "listeners": listeners,
                        "serviceDiscovery": {"dns": {"hostname": version_host(name, ns, version)}},
                        "backends": self._backends(key, callers),
                    },
                )
            )
        if versions:
            # every version together: a node that selects no pods of its own (the
            # controller's empty podSelector) and is found at the service's DNS name,
            # so a route can send to all endpoints
            listeners = [
                self._listener(key, p.workload_port, p.port, p.protocol, timeouts, spec.resilience)
                for p in spec.ports
            ]
            self.api.nodes.append(
                ApiNode(
                    node_name(name, ns, None),
                    name,
                    ns,
                    {},
                    {
                        "listeners": listeners,
                        "serviceDiscovery": {"dns": {"hostname": fqdn(name, ns)}},
                    },
                )
            )
        if http_ports:
            router = ApiRouter(
                f"{name}_{ns}",
                name,
                ns,
                [
                    {"portMapping": {"port": p.port, "protocol": _protocol(p.protocol)}}
                    for p in http_ports
                ],
            )
            router.routes = self._routes(key, spec, http_ports)
            self.api.routers.append(router)
            self.api.services.append(ApiService(vs_name, name, ns, router.name, None, None))
        else:
            node = node_names[versions[0] if versions else None]
            self.api.services.append(ApiService(vs_name, name, ns, None, node, name))

    def _listener_timeout(self, routes: Sequence[Route]) -> float | None:
        """The listener timeout the routes need: App Mesh cuts a request at the smaller
        of the route's and the listener's (15 s each when unset)."""
        wanted = [DEFAULT_PER_REQUEST if r.timeout is None else r.timeout for r in routes]
        if any(t == 0 for t in wanted):
            return 0.0
        longest = max(wanted, default=DEFAULT_PER_REQUEST)
        return longest if longest > DEFAULT_PER_REQUEST else None

    def _listener(
        self,
        key: str,
        workload_port: int,
        port: int,
        protocol: Protocol,
        timeout: float | None,
        resilience: Any,
    ) -> dict[str, Any]:
        proto = _protocol(protocol)
        li: dict[str, Any] = {"portMapping": {"port": workload_port, "protocol": proto}}
        mode = self.mode(key, port)
        if mode is not MtlsMode.DISABLE:
            li["tls"] = {
                "mode": str(mode),
                "certificate": {"sds": {"secretName": self.spec.identity(key)}},
                "validation": {"trust": {"sds": {"secretName": f"spiffe://{self.td}"}}},
            }
        if timeout is not None and proto != "tcp":
            li["timeout"] = {proto: {"perRequest": _duration(timeout)}}
        if resilience is not None and resilience.outlier_detection is not None:
            od = resilience.outlier_detection
            if od.consecutive_gateway_errors is not None:
                self.lost(
                    C.COMPILE_LOST,
                    key,
                    ("spec", "resilience", "outlierDetection", "consecutiveGatewayErrors"),
                    "App Mesh counts server errors (any 5xx) only, not gateway errors apart: "
                    "left out",
                )
            if od.consecutive_5xx_errors:
                li["outlierDetection"] = {
                    "maxServerErrors": od.consecutive_5xx_errors,
                    "interval": _duration(od.interval),
                    "baseEjectionDuration": _duration(od.base_ejection_time),
                    "maxEjectionPercent": od.max_ejection_percent,
                }
            else:
                self.lost(
                    C.COMPILE_LOST,
                    key,
                    ("spec", "resilience", "outlierDetection"),
                    "App Mesh ejects on consecutive server errors (5xx) only",
                )
        if resilience is not None and resilience.connection_limits is not None:
            self.lost(
                C.COMPILE_LOST,
                key,
                ("spec", "resilience", "connectionLimits"),
                "App Mesh's connection pool limits the server's Envoy towards its app, "
                "for all callers; clients' limits are fixed: left out",
            )
        return li

    def _backends(self, key: str, callers: dict[str, set[str] | None]) -> list[dict[str, Any]]:
        out = []
        for other, allowed in callers.items():
            if other == key or (allowed is not None and key not in allowed):
                continue
            svc = self.spec.service(other)
            backend: dict[str, Any] = {
                "virtualServiceName": fqdn(svc.metadata.name, svc.metadata.namespace)
            }
            modes = {self.mode(other, p.port) for p in svc.spec.ports}
            if modes - {MtlsMode.DISABLE}:
                # TLS towards the listeners that have it: `ports` ("the ports that the
                # policy is enforced for", API reference ClientPolicyTls), listener
                # (workload) ports; plaintext to the others
                tls_ports = sorted(
                    {
                        p.target_port or p.port
                        for p in svc.spec.ports
                        if self.mode(other, p.port) is not MtlsMode.DISABLE
                    }
                )
                backend["clientPolicy"] = {
                    "tls": {
                        "enforce": True,
                        **({"ports": tls_ports} if MtlsMode.DISABLE in modes else {}),
                        "certificate": {"sds": {"secretName": self.spec.identity(key)}},
                        "validation": {
                            "trust": {"sds": {"secretName": f"spiffe://{self.td}"}},
                            "subjectAlternativeNames": {
                                "match": {"exact": [self.spec.identity(other)]}
                            },
                        },
                    }
                }
            out.append(backend)
        return out

    # --- routes

    def _routes(self, key: str, spec: ServiceSpec, ports: Sequence[Any]) -> list[ApiRoute]:
        pieces = []
        if not spec.routes:
            # no routes: everything to all endpoints, 15 s, no retries (App Mesh's
            # virtual-node provider would add its hidden retries, a router does not)
            spec = spec.model_copy(update={"routes": (Route.model_construct(name=ALL_ENDPOINTS),)})
        for i, route in enumerate(spec.routes):
            for j, match in enumerate(route.matches or (None,)):
                pieces.append((precedence(match), i, j, route, match))
        pieces.sort(key=lambda p: (p[0], p[1], p[2]))
        out: list[ApiRoute] = []
        for _, i, j, route, match in pieces:
            action = self._action(key, i, route)
            if action is None:
                continue
            for port in ports if len(ports) > 1 else [None]:
                for k, m in enumerate(self._matches(key, i, j, match)):
                    if port is not None:
                        m["port"] = port.port
                    protocol = (
                        "http2Route"
                        if port is not None and port.protocol is Protocol.GRPC
                        else (
                            "http2Route"
                            if ports and ports[0].protocol is Protocol.GRPC
                            else "httpRoute"
                        )
                    )
                    body: dict[str, Any] = {"match": m, "action": action}
                    body["retryPolicy"] = self._retry(key, i, route.retries, route.timeout)
                    body["timeout"] = {
                        "perRequest": _duration(
                            DEFAULT_PER_REQUEST if route.timeout is None else route.timeout
                        )
                    }
                    suffix = f".{j}" + (f".{k}" if k else "") + (f".{port.port}" if port else "")
                    out.append(
                        ApiRoute(f"{route.name}{suffix}", {"priority": len(out), protocol: body})
                    )
        if len(out) > PRIORITY_MAX + 1:
            self.lost(
                C.COMPILE_MATCH,
                key,
                ("spec", "routes"),
                f"{len(out)} App Mesh routes; priorities end at {PRIORITY_MAX}",
            )
        return out

    def _matches(self, key: str, i: int, j: int, match: RouteMatch | None) -> list[dict[str, Any]]:
        """App Mesh matches for one neutral match: a segment prefix is two of them."""
        base: dict[str, Any] = {}
        path = ("spec", "routes", i, "matches", j)
        if match is not None:
            if match.method:
                base["method"] = match.method
            headers = []
            for h in match.headers:
                if h.present:
                    # a header match without `match` (Envoy present_match) is not documented;
                    # any value is the regex .*
                    headers.append({"name": h.name, "match": {"regex": ".*"}})
                else:
                    headers.append({"name": h.name, "match": {str(h.type).lower(): h.value}})
            if headers:
                base["headers"] = headers
            query = []
            for q in match.query_params:
                if q.exact is not None:
                    query.append({"name": q.name, "match": {"exact": q.exact}})
                elif q.present:
                    # UNVERIFIED: a query parameter without `match` means present
                    query.append({"name": q.name})
                else:
                    self.lost(
                        C.COMPILE_MATCH,
                        key,
                        (*path, "queryParams"),
                        "App Mesh matches query parameters by exact value only",
                    )
            if query:
                base["queryParameters"] = query
        p = None if match is None else match.path
        if p is None:
            return [{"prefix": "/", **base}]
        if p.exact is not None:
            return [{"path": {"exact": p.exact}, **base}]
        if p.regex is not None:
            return [{"path": {"regex": p.regex}, **base}]
        assert p.prefix is not None
        stem = p.prefix.rstrip("/")
        if not stem:
            return [{"prefix": "/", **base}]
        # App Mesh's prefix is Envoy's string prefix: /api would take /apix too
        return [{"path": {"exact": stem}, **base}, {"prefix": stem + "/", **base}]

    def _action(self, key: str, i: int, route: Route) -> dict[str, Any] | None:
        svc = self.spec.service(key)
        ns = svc.metadata.namespace
        targets: list[tuple[str, int]] = []
        for b in route.backends or ():
            target_key = key if b.service is None else self.spec.resolve(b.service, ns)
            if target_key is None:
                continue
            tsvc = self.spec.service(target_key)
            targets.append(
                (node_name(tsvc.metadata.name, tsvc.metadata.namespace, b.version), b.weight)
            )
        if not targets:
            targets = [(node_name(svc.metadata.name, ns, None), 1)]
        merged: dict[str, int] = {}
        for node, weight in targets:
            merged[node] = merged.get(node, 0) + weight
        if len(merged) > MAX_TARGETS:
            self.lost(
                C.TOO_MANY_TARGETS,
                key,
                ("spec", "routes", i, "backends"),
                f"{len(merged)} targets; App Mesh takes 10",
            )
            return None
        weights, exact = app_mesh_weights(list(merged.values()))
        if not exact:
            self.lost(
                C.WEIGHTS_ROUNDED,
                key,
                ("spec", "routes", i, "backends"),
                "weights "
                + ", ".join(str(v) for v in merged.values())
                + " written as "
                + ", ".join(str(w) for w in weights)
                + " (App Mesh takes integers 0-100 totalling at most 100)",
            )
        return {
            "weightedTargets": [
                {"virtualNode": n, "weight": w} for n, w in zip(merged, weights, strict=True)
            ]
        }

    def _retry(
        self, key: str, i: int, retries: Retries | None, timeout: float | None
    ) -> dict[str, Any]:
        """Always explicit: App Mesh's hidden default would otherwise retry."""
        whole = DEFAULT_PER_REQUEST if timeout is None else timeout
        per_try = retries.per_try_timeout if retries and retries.per_try_timeout else whole
        if retries is None or retries.attempts == 0:
            return {
                "maxRetries": 0,
                "perRetryTimeout": _duration(per_try or whole),
                "httpRetryEvents": ["server-error"],
            }
        http: list[str] = []
        tcp: list[str] = []
        on = set(retries.retry_on)
        if RetryOn.SERVER_ERROR in on:
            http.append("server-error")
        if RetryOn.GATEWAY_ERROR in on:
            http.append("gateway-error")
        if RetryOn.REFUSED_STREAM in on:
            http.append("stream-error")
        if RetryOn.CONNECT_FAILURE in on:
            tcp.append("connection-error")
        if RetryOn.RESET in on and not on & {RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}:
            self.lost(
                C.COMPILE_RETRY,
                key,
                ("spec", "routes", i, "retries", "retryOn"),
                "App Mesh retries a reset only with server-error or gateway-error",
            )
        codes = set(retries.status_codes)
        if 409 in codes:
            http.append("client-error")
        if codes - {409}:
            self.lost(
                C.COMPILE_RETRY,
                key,
                ("spec", "routes", i, "retries", "statusCodes"),
                "App Mesh retries event classes, not statuses: "
                + ", ".join(str(c) for c in sorted(codes - {409}))
                + " left out",
            )
        if not http and not tcp:
            http.append("stream-error")
        out: dict[str, Any] = {
            "maxRetries": retries.attempts,
            "perRetryTimeout": _duration(per_try or whole),
        }
        if http:
            out["httpRetryEvents"] = http
        if tcp:
            out["tcpRetryEvents"] = tcp
        return out


def app_mesh_weights(weights: list[int]) -> tuple[list[int], bool]:
    """App Mesh weights (integers 0-100, relative, their total at most 100: API reference
    `WeightedTarget`) for the neutral ones, and whether the shares are kept exactly.
    Percentages summing to 100 when they are exact; else the smallest integers in the
    same proportions when they total at most 100 (1:1:1 stays 1, 1, 1: a third each);
    else percentages by largest remainder, which changes the shares (MS3504)."""
    total = sum(weights)
    if total and all(w * 100 % total == 0 for w in weights):
        return [w * 100 // total for w in weights], True
    divisor = math.gcd(*weights) if total else 1
    reduced = [w // divisor for w in weights]
    if total and sum(reduced) <= 100:
        return reduced, True
    return percentages(weights), False


def percentages(weights: list[int]) -> list[int]:
    """Integers 0-100 summing to 100 in the same proportions, by largest remainder."""
    total = sum(weights)
    if total == 0:
        weights, total = [1] * len(weights), len(weights)
    exact = [w * 100 / total for w in weights]
    out = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda k: (-(exact[k] - out[k]), k))
    for k in order[: 100 - sum(out)]:
        out[k] += 1
    return out


def _protocol(protocol: Protocol) -> str:
    return {"http": "http", "grpc": "http2", "tcp": "tcp"}[str(protocol)]


def _duration(seconds: float) -> dict[str, Any]:
    """App Mesh durations are whole units: ms when needed."""
    if seconds == int(seconds):
        return {"unit": "s", "value": int(seconds)}
    return {"unit": "ms", "value": round(seconds * 1000)}


def compile_api(spec: Spec) -> tuple[ApiResources, list[Diagnostic]]:
    compiler = _Compiler(spec)
    api = compiler.run()
    for key, svc in spec.services.items():
        for i, route in enumerate(svc.spec.routes):
            if route.request_headers is not None:
                compiler.lost(
                    C.COMPILE_LOST,
                    key,
                    ("spec", "routes", i, "requestHeaders"),
                    "App Mesh routes cannot edit request headers: left out",
                )
    unique = list(dict.fromkeys(compiler.diagnostics))  # one finding per place, not per port
    return api, unique


__all__ = ["ApiResources", "compile_api", "duration", "percentages", "re"]

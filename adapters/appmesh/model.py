"""App Mesh's behaviour over its own resources, read from its documentation.

Sources (App Mesh user guide, https://docs.aws.amazon.com/app-mesh/latest/userguide/,
and API reference, https://docs.aws.amazon.com/app-mesh/latest/APIReference/):

* Routing (`routes.md`, `RouteSpec`): a router's routes are tried in `priority`
  order, 0 first, and the first that matches is taken. `prefix` is Envoy's route
  `prefix`, a plain string prefix (ASSUMPTION, semantics.md UNVERIFIED: App Mesh
  says nothing of segments; it configures Envoy, whose `prefix` is a string match).
  Path and prefix matching normalise the path first (`normalize_path` and
  `merge_slashes`: dot segments removed, runs of `/` merged; user guide note in
  `routes.md`). `path.regex` must match the whole path (Envoy `safe_regex`).
  Headers (`HttpRouteHeader`): exact, prefix, suffix, regex (whole value), range
  `[start, end)` of an integer value, each possibly `invert`ed; a header given
  without `match` must be present (ASSUMPTION: Envoy's `present_match`; the API does
  not say). Query parameters: `exact`, or present when no `match` is given
  (ASSUMPTION, the same). A request no route matches gets 404 (ASSUMPTION: the
  router's Envoy route table holds only its routes; semantics.md UNVERIFIED).
* Targets (`WeightedTarget`): shares are weight / total weight.
* Timeouts (`HttpTimeout`): `perRequest` 15 s when unset, 0 disables; the node's
  listener timeout (15 s when unset) also applies, so the smaller wins.
* Retries (`HttpRetryPolicy`; `envoy-defaults.md`): the route's policy; without one,
  the hidden default (2 retries on 503, connect-failure, refused-stream) when
  `Settings.default_retries`. `perRetryTimeout` equal to the whole timeout is the
  same as none (each try may take all the time there is).
* TLS (`tls.md`, `mutual-tls.md`): off by default. A STRICT listener refuses
  plaintext, PERMISSIVE takes both; a mesh client speaks TLS when its client policy
  for the backend (or `backendDefaults`) has `tls` that is enforced (`ClientPolicyTls`:
  `enforce`, "whether the policy is enforced", default true) for the listener's port
  (`ports`, all when empty); `enforce: false` is read as plaintext (ASSUMPTION, see
  `ClientTls.applies`).
* Egress (`EgressFilter`, `Backend`): with DROP_ALL a node's Envoy only has routes
  to the virtual services it declares as backends; other requests are refused by
  the caller's own Envoy (reported as denied, status 403 — ASSUMPTION: Envoy has no
  route and answers 404 or resets; the neutral word for "the mesh refused it" is used).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.appmesh.importer import read_mesh, service_key_of, version_name
from adapters.appmesh.resources import (
    DEFAULT_PER_REQUEST,
    DEFAULT_RETRY_HTTP_STATUS,
    DEFAULT_RETRY_MAX,
    NEW_ACCOUNT,
    HeaderMatch,
    Route,
    RouteMatch,
    Settings,
    VirtualNode,
)
from adapters.kit.envoy import (
    first_query_value,
    header_lines,
    merge_slashes,
    normalize_path,
    parse_query,
)
from meshspec.adapter import NativeDocument, Topology, Verdict
from meshspec.durations import format_duration
from meshspec.regex import full_match
from meshspec.semantics import BreakerPolicy, Outcome, Request, RetryPolicy, Transport
from meshspec.spec import MtlsMode, Origin
from meshspec.spec.resilience import OutlierDetection
from meshspec.spec.routes import RetryOn

_MODES = {"STRICT": MtlsMode.STRICT, "PERMISSIVE": MtlsMode.PERMISSIVE}
_EVENTS: Mapping[str, tuple[RetryOn, ...]] = {
    "server-error": (RetryOn.SERVER_ERROR, RetryOn.RESET),
    "gateway-error": (RetryOn.GATEWAY_ERROR, RetryOn.RESET),
    "stream-error": (RetryOn.REFUSED_STREAM,),
    "connection-error": (RetryOn.CONNECT_FAILURE,),
}


class AppMeshModel:
    def __init__(
        self,
        resources: Sequence[Mapping[str, Any]],
        topology: Topology,
        settings: Settings = NEW_ACCOUNT,
    ) -> None:
        docs = [NativeDocument(r, Origin("<model>", i)) for i, r in enumerate(resources)]
        self.mesh, _ = read_mesh(docs)
        self.topology = topology
        self.settings = settings
        self.by_key = {}
        for name, vs in self.mesh.services.items():
            ns, svc = service_key_of(name)
            self.by_key[f"{ns}/{svc}"] = vs
        self.egress = (
            next(iter(self.mesh.meshes.values())).egress_filter if self.mesh.meshes else "DROP_ALL"
        )
        self.placed = self._place_nodes()

    # --- who is who

    def _key(self, name: str, source: str | None) -> str:
        """The service a request addresses. A virtual service is named by the DNS name its
        clients use; Envoy compares host names case-insensitively, and a trailing dot or
        a port does not change the name (ASSUMPTION: as DNS and Envoy's virtual-host
        matching read them; App Mesh does not say). Short Kubernetes forms (`name`,
        `name.ns`, `name.ns.svc`) resolve as the client's DNS search path would."""
        if "/" in name:
            return name
        host = name.strip().lower().rstrip(".")
        if host.count(":") == 1:
            host = host.split(":", 1)[0]
        for key, vs in self.by_key.items():
            if vs.name.lower().rstrip(".") == host:
                return key
        parts = host.split(".")
        if len(parts) >= 2 and (len(parts) == 2 or parts[2] == "svc"):
            return f"{parts[1]}/{parts[0]}"
        ns = None if source is None else self._key(source, None).split("/")[0]
        named = [k for k, w in self.topology.workloads.items() if w.name == parts[0]]
        same = [k for k in named if k.split("/")[0] == ns]
        return (same or named or [f"default/{parts[0]}"])[0]

    def _place_nodes(self) -> dict[str, tuple[str, str | None]]:
        """Each node's (service key, version). A node named after a virtual service's
        service (`legacy_old`: all of old/legacy; `cart-v1_shop`: version v1 of shop/cart,
        the longest service name winning) is that service's; another node a service's
        routes target is one of its versions; pod labels, where a controller node has
        them, pick the version among the topology's."""
        placed: dict[str, tuple[str, str | None]] = {}
        for name in self.mesh.nodes:
            base, _, namespace = name.partition("_")
            base = base.lower()
            best: tuple[int, str, str | None] | None = None
            for key in self.by_key:
                ns, service = key.split("/")
                if namespace and namespace.lower() != ns:
                    continue
                if base == service or base.startswith(service + "-"):
                    version = base[len(service) + 1 :] or None
                    if best is None or len(service) > best[0]:
                        best = (len(service), key, version)
            if best is not None:
                placed[name] = (best[1], best[2])
        for key, vs in self.by_key.items():
            service = key.split("/")[1]
            routes = self.mesh.routes_of(vs.provider_router or "")
            targets = [t.node for r in routes for t in r.targets]
            for name in [*targets, *([vs.provider_node] if vs.provider_node else [])]:
                placed.setdefault(name, (key, version_name(name, service) or None))
        for name, node in self.mesh.nodes.items():
            labels = dict(node.pod_labels)
            for key, w in self.topology.workloads.items():
                if labels and labels.get("app") == w.name:
                    found = [
                        v
                        for v, sel in w.versions.items()
                        if all(labels.get(k) == x for k, x in sel.items())
                    ]
                    placed[name] = (key, found[0] if found else None)
            if name not in placed:
                ns, svc = service_key_of(node.hostname or name)
                placed[name] = (f"{ns}/{svc}", None)
        return placed

    def _node_of(self, node: VirtualNode) -> tuple[str, str | None]:
        return self.placed[node.name]

    def _client_node(self, key: str) -> VirtualNode | None:
        """The node whose Envoy sends the service's requests: one with pods of its own (a
        version), not one that only names all the service's endpoints."""
        nodes = self._nodes_of_service(key)
        versions = [n for n in nodes if self._node_of(n)[1] is not None]
        return next(iter(versions or nodes), None)

    def _nodes_of_service(self, key: str) -> list[VirtualNode]:
        return [n for n in self.mesh.nodes.values() if self._node_of(n)[0] == key]

    # --- the decision

    def decide(self, request: Request) -> Verdict:
        key = self._key(request.destination, request.source)
        workload = self.topology.workloads.get(key)
        vs = self.by_key.get(key)
        servers = self._nodes_of_service(key)
        if workload is None or (vs is None and not servers):
            return Verdict(Outcome.UNKNOWN_SERVICE, None)
        ports = dict(workload.ports)
        port = request.port if request.port is not None else workload.ports[0][0]
        if port not in ports:
            return Verdict(Outcome.UNKNOWN_PORT, None)
        if ports[port] == "tcp":
            return Verdict(Outcome.NOT_HTTP, None)
        mode = self._listener_mode(servers, workload.workload_port(port))
        client = None
        if request.source is not None:
            source_key = self._key(request.source, None)
            client = self._client_node(source_key)
        if (
            client is not None
            and self.egress == "DROP_ALL"
            and (vs is None or vs.name not in [b.virtual_service for b in client.backends])
        ):
            # the caller's own Envoy has no route to it: refused before it leaves
            return Verdict(Outcome.DENIED, 403, authz="deny", mtls=mode)
        tls = (
            client is not None
            and vs is not None
            and self._client_speaks_tls(client, vs.name, workload.workload_port(port))
        )
        transport = Transport.MTLS if tls and mode is not MtlsMode.DISABLE else Transport.PLAINTEXT
        # refused by the service's own Envoy: the request was addressed to its endpoints
        refused = Verdict(
            Outcome.MTLS_REFUSED,
            None,
            backends={(key, None): 1.0},
            mtls=mode,
            transport=Transport.REFUSED,
            breakers={(key, None): BreakerPolicy()},
            headers=request.header_map(),
        )
        path, query = _split(request.target)
        headers = request.header_map()
        lines = header_lines(request.headers)
        if client is None or vs is None:
            # no Envoy on the client's side: routes, retries and timeouts are the
            # client's Envoy's, so the request reaches the service's endpoints as sent
            if mode is MtlsMode.STRICT:
                return refused
            return self._forward(
                None,
                {(key, None): 1.0},
                mode,
                transport,
                None,
                RetryPolicy(),
                headers,
                {(key, None): BreakerPolicy()},
            )
        if mode is MtlsMode.STRICT and not tls:
            return refused
        if vs.provider_router is None:
            retries = self._default_retries()
            node = self.mesh.nodes.get(vs.provider_node or "")
            timeout = _limit(None, [node] if node else [])
            return self._forward(
                None,
                {(key, None): 1.0},
                mode,
                transport,
                timeout,
                retries,
                headers,
                {(key, None): _breaker(node)},
            )
        for route in self.mesh.routes_of(vs.provider_router):
            if route.protocol == "tcpRoute" or not _route_matches(
                route.match, request.method, path, query, lines, port
            ):
                continue
            total = sum(t.weight for t in route.targets)
            shares: dict[tuple[str, str | None], float] = {}
            breakers: dict[tuple[str, str | None], BreakerPolicy] = {}
            nodes = []
            for t in route.targets:
                node = self.mesh.nodes.get(t.node)
                if node is None or not total:
                    continue
                nodes.append(node)
                k = self._node_of(node)
                shares[k] = round(shares.get(k, 0.0) + t.weight / total, 6)
                if t.weight:
                    breakers.setdefault(k, _breaker(node))
            timeout = _limit(route.timeout.per_request, nodes)
            retries = self._retries(route, timeout)
            return self._forward(
                route.name, shares, mode, transport, timeout, retries, headers, breakers
            )
        # the client's Envoy answers itself: no connection to the service is made
        return Verdict(Outcome.NO_ROUTE, 404)

    def _listener_mode(self, nodes: Sequence[VirtualNode], port: int) -> MtlsMode:
        for node in nodes:
            for li in node.listeners:
                if li.port == port:
                    if li.tls is None:
                        return MtlsMode.DISABLE
                    return _MODES.get(li.tls.mode, MtlsMode.DISABLE)
        return MtlsMode.DISABLE

    def _client_speaks_tls(self, client: VirtualNode, service: str, port: int) -> bool:
        """The backend's client policy, else `backendDefaults`; a policy with
        `enforce: false`, or for other ports, sends plaintext (`ClientTls.applies`)."""
        for backend in client.backends:
            if backend.virtual_service == service and backend.tls is not None:
                return backend.tls.applies(port)
        return client.default_tls is not None and client.default_tls.applies(port)

    def _default_retries(self) -> RetryPolicy:
        if not self.settings.default_retries:
            return RetryPolicy()
        return RetryPolicy(
            DEFAULT_RETRY_MAX,
            None,
            (RetryOn.CONNECT_FAILURE, RetryOn.REFUSED_STREAM),
            DEFAULT_RETRY_HTTP_STATUS,
        )

    def _retries(self, route: Route, timeout: float | None) -> RetryPolicy:
        policy = route.retry
        if policy is None:
            return self._default_retries()
        if policy.max_retries == 0:
            return RetryPolicy()
        on: list[RetryOn] = []
        codes: list[int] = []
        for event in (*policy.http_events, *policy.tcp_events):
            on += [e for e in _EVENTS.get(event, ()) if e not in on]
            if event == "client-error":
                codes.append(409)
        per_try = policy.per_retry_timeout
        if per_try == 0 or (per_try is not None and timeout is not None and per_try >= timeout):
            per_try = None  # 0 disables it (Envoy); the whole timeout bounds each try anyway
        # App Mesh's events are a set: written in the neutral vocabulary's order
        order = list(RetryOn)
        return RetryPolicy(
            policy.max_retries, per_try, tuple(sorted(on, key=order.index)), tuple(codes)
        )

    def _forward(
        self,
        route: str | None,
        shares: dict[tuple[str, str | None], float],
        mode: MtlsMode,
        transport: Transport,
        timeout: float | None,
        retries: RetryPolicy,
        headers: Mapping[str, str],
        breakers: Mapping[tuple[str, str | None], BreakerPolicy],
    ) -> Verdict:
        return Verdict(
            Outcome.FORWARDED,
            None,
            route=route,
            # App Mesh has no request authorization: every request that arrives is allowed
            authz="allow",
            backends={k: v for k, v in shares.items() if v > 0},
            mtls=mode,
            transport=transport,
            timeout=timeout,
            retries=retries,
            breakers=dict(breakers),
            headers=dict(headers),
        )


def _breaker(node: VirtualNode | None) -> BreakerPolicy:
    """Outlier detection declared on the node's listener, applied by the calling Envoy to
    the node's endpoints (user guide `virtual_nodes.md`); client-side connection limits
    are fixed by App Mesh (`envoy-defaults.md`), so none."""
    for li in node.listeners if node is not None else ():
        o = li.outlier
        if o is not None:
            return BreakerPolicy(
                OutlierDetection.model_validate(
                    {
                        "consecutive5xxErrors": o.max_server_errors,
                        "consecutiveGatewayErrors": None,
                        "interval": format_duration(o.interval),
                        "baseEjectionTime": format_duration(o.base_ejection),
                        "maxEjectionPercent": o.max_ejection_percent,
                    }
                ),
                None,
            )
    return BreakerPolicy()


def _limit(route: float | None, nodes: Sequence[VirtualNode]) -> float | None:
    """The smaller of the route's and the listeners' request timeouts; None: none."""
    values = [DEFAULT_PER_REQUEST if route is None else route]
    for node in nodes:
        for li in node.listeners:
            values.append(
                DEFAULT_PER_REQUEST if li.timeout.per_request is None else li.timeout.per_request
            )
    finite = [v for v in values if v != 0]
    return min(finite) if finite else None


def _split(target: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The path routes see and the query: App Mesh turns on Envoy's `normalize_path` and
    `merge_slashes` for path and prefix matching (user guide `routes.md`); what those do
    is the kit's Envoy facts."""
    path, _, query = target.partition("?")
    path = path.split("#")[0] or "/"
    return merge_slashes(normalize_path(path)), parse_query(query)


def _route_matches(
    m: RouteMatch,
    method: str,
    path: str,
    query: tuple[tuple[str, str], ...],
    headers: Mapping[str, tuple[str, ...]],
    port: int,
) -> bool:
    if m.port is not None and m.port != port:
        return False
    if m.exact is not None and path != m.exact:
        return False
    if m.regex is not None and not full_match(m.regex, path):
        return False
    if m.prefix is not None and not path.startswith(m.prefix):
        return False
    if m.method is not None and method.upper() != m.method.upper():
        return False
    if not all(_header_holds(h, headers) for h in m.headers):
        return False
    for name, value in m.query:
        given = first_query_value(query, name)
        if given is None or (value is not None and given != value):
            return False
    return True


def _header_holds(h: HeaderMatch, headers: Mapping[str, tuple[str, ...]]) -> bool:
    """Envoy's route matcher tries the condition on each line of the header and holds
    when one matches (kit: `header_lines`); `invert` negates the whole result."""
    lines = headers.get(h.name.lower())
    held = lines is not None and any(_line_holds(h, value) for value in lines)
    return held != h.invert


def _line_holds(h: HeaderMatch, value: str) -> bool:
    if h.kind == "present":
        return True
    if h.kind == "exact":
        return value == h.value
    if h.kind == "prefix":
        return value.startswith(h.value)
    if h.kind == "suffix":
        return value.endswith(h.value)
    if h.kind == "regex":
        return full_match(h.value, value)
    assert h.range is not None
    return bool(re.fullmatch(r"-?\d+", value)) and h.range[0] <= int(value) < h.range[1]

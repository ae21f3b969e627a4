"""A router's App Mesh routes -> the neutral service's routes.

App Mesh matches a router's routes in `priority` order (0 first) and takes the
first that matches (API reference `RouteSpec.priority`); the neutral spec takes
the most specific match. The routes are written in App Mesh's order and kept
exactly where the neutral precedence would pick differently (`_import_order`).
What a route cannot carry is reported: a header match App Mesh inverts or
matches by integer range, the scheme and port conditions, gRPC event classes.

Retries: a route without a retry policy gets App Mesh's hidden default policy
(`resources.DEFAULT_RETRY_*`, when `Settings.default_retries`), written out with
MS3106. The route's timeout is the smaller of the route's `perRequest` and the
listener `perRequest` of every target node (15 s each when unset; user guide
`routes.md`: raising a route timeout above 15 s needs the listeners raised too).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adapters._k8s import duration
from adapters.appmesh import codes as C
from adapters.appmesh._import_order import Draft, keep_first_match, neighbours
from adapters.appmesh.importer import dns_label, owner
from adapters.appmesh.resources import (
    DEFAULT_PER_REQUEST,
    DEFAULT_RETRY_HTTP_STATUS,
    DEFAULT_RETRY_MAX,
    TARGET,
    HeaderMatch,
    Route,
    RouteMatch,
)
from adapters.kit.first_match import PathCond, Piece, StringCond, string_prefix_pieces
from meshspec.spec.routes import RetryOn

if TYPE_CHECKING:
    from adapters.appmesh.importer import Context, ServiceDraft


def import_routes(ctx: Context) -> None:
    for draft in ctx.services.values():
        if draft.router is not None:
            _router_routes(ctx, draft)
        elif draft.provider_node is not None and draft.virtual_service is not None:
            _provider_route(ctx, draft)


def _router_routes(ctx: Context, draft: ServiceDraft) -> None:
    assert draft.router is not None
    routes = ctx.mesh.routes_of(draft.router)
    unordered = [r for r in routes if r.priority is None]
    if unordered and len(routes) > 1:
        ctx.diagnostics.append(
            C.PRIORITY_MISSING(
                f"router {draft.router}: {len(unordered)} of {len(routes)} routes have no "
                "priority; App Mesh does not say in which order it matches them, they are "
                "read after the others, by name",
                location=unordered[0].where,
                target=TARGET,
                hint="give every route a unique priority (0 is matched first)",
            )
        )
    routes = _one_per_port(ctx, draft.router, routes)
    drafts: list[Draft] = []
    for route in routes:
        if route.protocol == "tcpRoute":
            _tcp_route(ctx, draft, route)
            continue
        body: dict[str, Any] = {"name": dns_label(route.name, "route")}
        body["backends"] = _backends(ctx, draft, route)
        retries = _retries(ctx, route)
        if retries is not None:
            body["retries"] = retries
        timeout = _timeout(ctx, route)
        if timeout is not None:
            body["timeout"] = timeout
        _idle(ctx, route)
        drafts.append(Draft(body, _group(route.name), _pieces(ctx, route), [route]))
    joined = neighbours(drafts)
    used: set[str] = set()
    for joined_draft in joined:
        joined_draft.body["name"] = _unique(joined_draft.body["name"], used)
    kept = keep_first_match(ctx, joined)
    if len(kept) == 1 and _all_endpoints(kept[0], draft):
        return  # the same as no route: everything to every endpoint, 15 s, no retries
    draft.routes = kept


_PIECE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[0-9]+)+$")


def _group(name: str) -> str:
    """Routes named `<route>.<n>[.<n>...]` (as meshspec compiles one neutral route with
    several matches, ports or a segment prefix) are pieces of the neutral `<route>`."""
    piece = _PIECE.match(name)
    return piece.group(1) if piece else ""


def _backends(ctx: Context, draft: ServiceDraft, route: Route) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in route.targets:
        if t.node not in ctx.mesh.nodes:
            continue
        key, version = owner(ctx, t.node, draft)
        backend: dict[str, Any] = {}
        if key != draft.key:
            backend["service"] = ctx.caller_name(key, draft)
        if version:
            backend["version"] = version
        out.append({**backend, "weight": t.weight})
    if len(out) == 1 and set(out[0]) == {"weight"}:
        return []  # all endpoints of the service: the neutral route without backends
    return out


def _tcp_route(ctx: Context, draft: ServiceDraft, route: Route) -> None:
    """A TCP route's targets become versions; its split does not survive: name the
    connection that goes elsewhere."""
    total = sum(t.weight for t in route.targets) or 1
    shares = ", ".join(f"{t.node} {t.weight * 100 // total}%" for t in route.targets)
    port = route.match.port
    request = {"destination": draft.key, "port": port, "protocol": "tcp"}
    ctx.diagnostics.append(
        C.TCP_ROUTE(
            f"route {route.name}: a TCP route; its targets become the service's versions, "
            "the neutral spec routes HTTP only: a TCP connection to "
            f"{draft.key}{'' if port is None else f' port {port}'} goes to {shares} in App "
            "Mesh, to every endpoint of the service after the move",
            location=route.where,
            target=TARGET,
            hint="keep one target per TCP service, or split with separate services",
            extra={"request": request},
        )
    )


def _all_endpoints(route: dict[str, Any], draft: ServiceDraft) -> bool:
    return set(route) <= {"name", "backends"} and not route.get("backends")


def _one_per_port(ctx: Context, router_name: str, routes: list[Route]) -> list[Route]:
    """A router with several listeners needs each route's `port`; routes the same but for
    the port, one on every listener, are one neutral route (the neutral spec's routes hold
    on every port): the first stays, without its port."""
    router = ctx.mesh.routers.get(router_name)
    ports = {port for port, _ in router.listeners} if router else set()
    if len(ports) < 2:
        return routes

    def same(route: Route) -> tuple[Any, ...]:
        return (
            _group(route.name) or route.name,
            route.protocol == "tcpRoute",
            replace(route.match, port=None),
            route.targets,
            route.retry,
            route.timeout,
        )

    seen: dict[tuple[Any, ...], set[int]] = {}
    for route in routes:
        if route.match.port is not None:
            seen.setdefault(same(route), set()).add(route.match.port)
    out = []
    done: set[tuple[Any, ...]] = set()
    for route in routes:
        key = same(route)
        if route.match.port is not None and seen.get(key) == ports:
            if key in done:
                continue
            done.add(key)
            route = replace(route, match=replace(route.match, port=None))
        out.append(route)
    return out


def _provider_route(ctx: Context, draft: ServiceDraft) -> None:
    """A virtual node provider gets an Envoy route App Mesh writes itself, with the hidden
    default retry policy and no way to set another (user guide `envoy-defaults.md`)."""
    if not ctx.settings.default_retries:
        return
    node = ctx.node(draft.provider_node or "")
    if node is None or all(li.protocol == "tcp" for li in node.listeners):
        return
    draft.routes = [{"name": "default", "retries": _default_retries()}]
    ctx.diagnostics.append(
        C.DEFAULT_RETRIES(
            f"virtual service {draft.virtual_service}: App Mesh retries requests to its "
            f"virtual node provider {draft.provider_node} by its hidden default policy "
            f"(up to {DEFAULT_RETRY_MAX} retries on 503, connect-failure, refused-stream); "
            "written as route 'default'",
            location=node.where,
            target=TARGET,
            hint="accounts with a mesh before 2020-07-29 have no such default: import with "
            "that setting off",
        )
    )


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate = f"{name[:58]}-{n}"
        n += 1
    used.add(candidate)
    return candidate


def _dropped(ctx: Context, route: Route, what: str, why: str) -> None:
    ctx.diagnostics.append(
        C.MATCH_DROPPED(
            f"route {route.name}: {what} {why}; the neutral route matches without it "
            "(it may take requests App Mesh sends elsewhere)",
            location=route.where,
            target=TARGET,
            hint="review the route: add a narrower neutral condition by hand where one exists",
        )
    )


def _pieces(ctx: Context, route: Route) -> list[Piece]:
    """The route's conditions as the kit's pieces (ORed paths, ANDed conditions)."""
    m = route.match
    paths: list[PathCond] = [None]
    if route.protocol == "grpcRoute":
        paths = [_grpc_path(m)]
    elif m.exact is not None:
        paths = [("exact", m.exact)]
    elif m.regex is not None:
        paths = [("regex", m.regex)]
    elif m.prefix is not None:
        paths = list(string_prefix_pieces(m.prefix))
        if m.prefix != "/" and not m.prefix.endswith("/"):
            ctx.diagnostics.append(
                C.PREFIX_STRING(
                    f"route {route.name}: App Mesh's prefix {m.prefix} also takes "
                    f"{m.prefix}x (Envoy's string prefix); the neutral route keeps that with "
                    f"the regex '{re.escape(m.prefix)}[^/].*' beside the segment prefix",
                    location=route.where,
                    target=TARGET,
                    hint="drop the regex match if only whole path segments were meant",
                )
            )
    if m.scheme:
        _dropped(ctx, route, f"scheme {m.scheme}", "has no neutral condition")
    if m.port is not None:
        _dropped(ctx, route, f"port {m.port}", "is not a route condition in the neutral spec")
    headers = tuple(h for h in (_header(ctx, route, h) for h in m.headers) if h is not None)
    query = tuple((n, "exact", v) if v is not None else (n, "present", "") for n, v in m.query)
    method = m.method.upper() if m.method else None
    return [Piece(path, method, headers, query) for path in paths]


def _grpc_path(m: RouteMatch) -> PathCond:
    """gRPC requests are POST /<service>/<method> (gRPC over HTTP/2 protocol)."""
    if m.grpc_service and m.grpc_method:
        return ("exact", f"/{m.grpc_service}/{m.grpc_method}")
    if m.grpc_service:
        return ("prefix", f"/{m.grpc_service}")
    return None


def _header(ctx: Context, route: Route, h: HeaderMatch) -> StringCond | None:
    name = h.name.lower()
    if h.invert:
        _dropped(
            ctx,
            route,
            f"inverted header match on {h.name}",
            "has no neutral form (the neutral spec has no negation)",
        )
        return None
    if h.kind == "present":
        return (name, "present", "")
    if h.kind in ("exact", "prefix", "regex"):
        return (name, h.kind, h.value)
    if h.kind == "suffix":
        return (name, "regex", ".*" + re.escape(h.value))
    assert h.range is not None
    _dropped(
        ctx,
        route,
        f"range match {h.range[0]}..{h.range[1] - 1} on {h.name}",
        "has no neutral form",
    )
    return None


def _default_retries() -> dict[str, Any]:
    return {
        "attempts": DEFAULT_RETRY_MAX,
        "retryOn": ["connect-failure", "refused-stream"],
        "statusCodes": list(DEFAULT_RETRY_HTTP_STATUS),
    }


_HTTP_EVENTS = {
    # user guide `routes.md`: server-error = 500-508, 510, 511 plus Envoy `reset`;
    # gateway-error = 502-504 plus `reset`; client-error = 409; stream-error = refused stream
    "server-error": (["5xx", "reset"], []),
    "gateway-error": (["gateway-error", "reset"], []),
    "client-error": ([], [409]),
    "stream-error": (["refused-stream"], []),
}


def _retries(ctx: Context, route: Route) -> dict[str, Any] | None:
    policy = route.retry
    if policy is None:
        if not ctx.settings.default_retries:
            return None
        ctx.diagnostics.append(
            C.DEFAULT_RETRIES(
                f"route {route.name} has no retry policy: App Mesh applies its hidden default "
                f"(up to {DEFAULT_RETRY_MAX} retries on 503, connect-failure, refused-stream), "
                "written out as the route's retries",
                location=route.where,
                target=TARGET,
                hint="accounts with a mesh before 2020-07-29 have no such default: import with "
                "that setting off",
            )
        )
        return _default_retries()
    if policy.max_retries == 0:
        return None
    retry_on: list[str] = []
    codes: list[int] = []
    for event in policy.http_events:
        kinds, statuses = _HTTP_EVENTS.get(event, ([], []))
        if not kinds and not statuses:
            _retry_event(ctx, route, event)
        retry_on += kinds
        codes += statuses
    for event in policy.tcp_events:
        if event == "connection-error":
            retry_on.append("connect-failure")
        else:
            _retry_event(ctx, route, event)
    for event in policy.grpc_events:
        _retry_event(ctx, route, f"gRPC {event}")
    out: dict[str, Any] = {"attempts": min(policy.max_retries, 10)}
    if policy.max_retries > 10:
        ctx.diagnostics.append(
            C.RETRY_EVENT(
                f"route {route.name}: {policy.max_retries} retries; the neutral spec allows 10",
                location=route.where,
                target=TARGET,
            )
        )
    if policy.per_retry_timeout is not None:
        out["perTryTimeout"] = duration(policy.per_retry_timeout)
    # App Mesh's events are a set: written in the neutral vocabulary's order
    order = [str(o) for o in RetryOn]
    out["retryOn"] = sorted(dict.fromkeys(retry_on), key=order.index)
    if codes:
        out["statusCodes"] = sorted(set(codes))
    return out


def _retry_event(ctx: Context, route: Route, event: str) -> None:
    ctx.diagnostics.append(
        C.RETRY_EVENT(
            f"route {route.name}: retry event {event} has no neutral form: not retried",
            location=route.where,
            target=TARGET,
        )
    )


def _timeout(ctx: Context, route: Route) -> str | None:
    """The smaller of the route's and its targets' listener request timeouts (0: none)."""

    def limit(value: float | None) -> float:
        seconds = DEFAULT_PER_REQUEST if value is None else value
        return float("inf") if seconds == 0 else seconds

    own = limit(route.timeout.per_request)
    caps = []
    for target in route.targets:
        node = ctx.node(target.node)
        if node is None:
            continue
        for li in node.listeners:
            if target.port is None or li.port == target.port:
                caps.append(limit(li.timeout.per_request))
    effective = min([own, *caps])
    if effective < own:
        ctx.diagnostics.append(
            C.TIMEOUT_CAPPED(
                f"route {route.name}: the route allows {_shown(own)}, a target's listener "
                f"{_shown(effective)}; the neutral timeout is {_shown(effective)}",
                location=route.where,
                target=TARGET,
            )
        )
    if effective == DEFAULT_PER_REQUEST:
        return None
    return "0s" if effective == float("inf") else duration(effective)


def _shown(seconds: float) -> str:
    return "no timeout" if seconds == float("inf") else duration(seconds)


def _idle(ctx: Context, route: Route) -> None:
    if route.timeout.idle is not None:
        ctx.diagnostics.append(
            C.NOT_CARRIED(
                f"route {route.name}: idle timeout {duration(route.timeout.idle)} has no "
                "neutral setting",
                location=route.where,
                target=TARGET,
            )
        )

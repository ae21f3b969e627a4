"""VirtualServices: the neutral most-specific-wins routing as Istio's first-match list.

Istio evaluates `http` rules top to bottom and takes the first that matches
(istio/api `virtual_service.proto`, `VirtualService.http`), so each neutral
(route, match) pair becomes one rule, in the spec's precedence order
(`meshspec.semantics.ordered_candidates`, the spec's own definition of that
order). Istio's `uri.prefix` is a plain string prefix; a neutral prefix is
segment-aware, so `/x` becomes the ORed pair `exact: /x` + `prefix: /x/`.

Defaults that differ are written out: Istio's route timeout is off and it
retries twice by default (istio/istio `pilot/pkg/networking/core/route/retry`);
neutral is 15s and no retries, so every rule carries both.
"""

from __future__ import annotations

from typing import Any

from adapters._k8s import duration, fqdn, metadata, resource, source_of
from adapters.istio import codes
from adapters.istio.resources import NETWORKING
from adapters.kit import CompileContext, envoy
from meshspec.semantics import DEFAULT_TIMEOUT, ordered_candidates
from meshspec.spec import (
    Backend,
    HeaderEdits,
    PathMatch,
    Protocol,
    Retries,
    Route,
    RouteMatch,
    ServiceDocument,
)

#: Presence of a query parameter: Envoy's RE2 full match of `.*` holds for any value,
#: including the empty one, and fails only when the parameter is absent.
QUERY_PRESENT = {"regex": ".*"}


def virtual_services(ctx: CompileContext) -> list[dict[str, Any]]:
    out = []
    for key, svc in ctx.spec.services.items():
        if all(p.protocol is Protocol.TCP for p in svc.spec.ports):
            continue  # HTTP routing does not apply to TCP-only services
        out.append(_virtual_service(ctx, key, svc))
    return out


def _virtual_service(ctx: CompileContext, key: str, svc: ServiceDocument) -> dict[str, Any]:
    name, ns = svc.metadata.name, svc.metadata.namespace
    host = fqdn(name, ns)
    if svc.spec.routes:
        rules = [
            _rule(ctx, key, svc, c.route_index, c.route, c.match_index, c.match)
            for c in ordered_candidates(svc)
        ]
        source = source_of(ctx.spec, key, ("spec", "routes"))
    else:
        # No routes: everything to all endpoints, still with the neutral defaults,
        # so that Istio's implicit default route (2 retries, no timeout) never applies.
        rules = [
            {
                "route": [{"destination": {"host": host}}],
                "timeout": duration(DEFAULT_TIMEOUT),
                "retries": {"attempts": 0},
            }
        ]
        source = source_of(ctx.spec, key)
    spec = {"hosts": [host], "gateways": ["mesh"], "http": rules}
    return resource(NETWORKING, "VirtualService", metadata(name, ns, source), spec)


def _rule(
    ctx: CompileContext,
    key: str,
    svc: ServiceDocument,
    route_index: int,
    route: Route,
    match_index: int | None,
    match: RouteMatch | None,
) -> dict[str, Any]:
    """One Istio rule; named `<route>.<match index>` (or `<route>`) so it traces back."""
    rule: dict[str, Any] = {
        "name": route.name if match_index is None else f"{route.name}.{match_index}"
    }
    if match is not None:
        requests = _match_requests(match)
        if requests:
            rule["match"] = requests
        _report_header_lines(ctx, key, route_index, match_index or 0, match)
    rule["route"] = _destinations(ctx, key, svc, route_index, route)
    if route.timeout is None:
        rule["timeout"] = duration(DEFAULT_TIMEOUT)
    elif route.timeout > 0:
        rule["timeout"] = duration(route.timeout)
    # timeout "0s" means disabled: Istio's own default (no timeout) when omitted.
    rule["retries"] = _retries(route.retries)
    if route.request_headers is not None:
        edits = _header_edits(ctx, key, route_index, route.request_headers)
        if edits:
            rule["headers"] = {"request": edits}
    return rule


def _report_header_lines(
    ctx: CompileContext, key: str, route_index: int, match_index: int, match: RouteMatch
) -> None:
    """MS1015 for each header value, prefix or regex condition of a route.

    The spec matches the header's lines joined with ',' (docs/spec.md, header
    values); a real Envoy's route matcher tests each line and takes the route
    when any one matches, so `x: 0` sent beside `x: 1` takes a route on `x`
    exact `1`. Presence is the same either way."""
    for index, header in enumerate(match.headers or ()):
        if header.present:
            continue
        ctx.report(
            codes.ROUTE_HEADER_LINES,
            key,
            ("spec", "routes", route_index, "matches", match_index, "headers", index),
            f"the route on header {header.name!r} is also taken when the value is one line "
            "of several; the spec matches the lines joined with ','",
            "if clients may repeat the header, match on a header they send once, or accept "
            "that any one line selects the route",
        )


def _match_requests(match: RouteMatch) -> list[dict[str, Any]]:
    """The ORed HTTPMatchRequests for one neutral match (two for a segment prefix).

    Each request gets its own dicts: shared ones would come out as YAML anchors."""
    uris = _uri_matches(match.path)
    if not uris:
        common = _conditions(match)
        return [common] if common else []
    return [{"uri": uri, **_conditions(match)} for uri in uris]


def _conditions(match: RouteMatch) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if match.method is not None:
        out["method"] = {"exact": match.method}
    if match.headers:
        out["headers"] = {
            h.name: ({} if h.present else {_kind(h.type): h.value}) for h in match.headers
        }
    if match.query_params:
        out["queryParams"] = {
            q.name: (dict(QUERY_PRESENT) if q.present else {_kind(q.type): q.value})
            for q in match.query_params
        }
    return out


def _uri_matches(path: PathMatch | None) -> list[dict[str, str]]:
    if path is None:
        return []
    if path.exact is not None:
        return [{"exact": path.exact}]
    if path.regex is not None:
        return [{"regex": path.regex}]
    base = (path.prefix or "/").rstrip("/")
    if not base:
        return [{"prefix": "/"}]
    return [{"exact": base}, {"prefix": base + "/"}]


def _kind(match_type: str) -> str:
    return str(match_type).lower()


def _destinations(
    ctx: CompileContext, key: str, svc: ServiceDocument, route_index: int, route: Route
) -> list[dict[str, Any]]:
    """Weighted destinations; the same (host, subset) twice is merged by adding weights."""
    backends = route.backends or (Backend(),)
    weights: dict[tuple[str, str | None], int] = {}
    for i, b in enumerate(backends):
        target = _backend_key(ctx, svc, b)
        if target != key:
            _check_backend_port(ctx, key, target, ("spec", "routes", route_index, "backends", i))
        other = ctx.spec.service(target).metadata
        host = fqdn(other.name, other.namespace)
        weights[(host, b.version)] = weights.get((host, b.version), 0) + b.weight
    out = []
    for (host, subset), weight in weights.items():
        dest: dict[str, Any] = {"host": host}
        if subset is not None:
            dest["subset"] = subset
        entry: dict[str, Any] = {"destination": dest}
        if len(weights) > 1:
            entry["weight"] = weight
        out.append(entry)
    return out


def _backend_key(ctx: CompileContext, svc: ServiceDocument, backend: Backend) -> str:
    ns = svc.metadata.namespace
    if backend.service is None:
        return f"{ns}/{svc.metadata.name}"
    resolved = ctx.spec.resolve(backend.service, ns)
    if resolved is None:  # validation rejects dangling backends before compiling
        raise ValueError(f"backend service {backend.service!r} does not exist")
    return resolved


def _check_backend_port(
    ctx: CompileContext, key: str, target: str, path: tuple[str | int, ...]
) -> None:
    """Istio sends to the listener's port when another service has several ports
    (istio/istio `GetDestinationCluster`); the spec picks the request's port if the
    backend has it, else its first HTTP port. Those agree only when both services
    expose the same ports."""
    own = {p.port for p in ctx.spec.service(key).spec.ports}
    theirs = ctx.spec.service(target).spec.ports
    if len(theirs) > 1 and own != {p.port for p in theirs}:
        ctx.report(
            codes.BACKEND_PORT,
            key,
            path,
            f"backend {target} has several ports and not the same ones as {key}",
            "give both services the same ports, or route to a single-port service",
        )


def _retries(retries: Retries | None) -> dict[str, Any]:
    if retries is None or retries.attempts == 0:
        return {"attempts": 0}
    out: dict[str, Any] = {"attempts": retries.attempts}
    if retries.per_try_timeout is not None:
        out["perTryTimeout"] = duration(retries.per_try_timeout)
    conditions = [envoy.RETRY_ON_OF[o] for o in retries.retry_on]
    # Integers in retryOn are status codes; Istio adds `retriable-status-codes` itself.
    conditions += [str(code) for code in retries.status_codes]
    out["retryOn"] = ",".join(conditions)
    return out


def _header_edits(
    ctx: CompileContext, key: str, route_index: int, edits: HeaderEdits
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if edits.set:
        out["set"] = dict(edits.set)
    if edits.add:
        out["add"] = dict(edits.add)
    if edits.remove:
        out["remove"] = list(edits.remove)
    removed = {n.lower() for n in edits.remove}
    clash = sorted(removed & {n.lower() for n in (*edits.set, *edits.add)})
    if clash:
        ctx.report(
            codes.HEADER_EDIT_ORDER,
            key,
            ("spec", "routes", route_index, "requestHeaders", "remove"),
            f"header(s) {', '.join(clash)} are both written and removed; the spec removes "
            "them last, Envoy removes before it adds, so Istio keeps them",
            "do not set or add a header that the same route removes",
        )
    return out

"""Listener outlier detection and connection pools -> neutral resilience.

Outlier detection is declared on the server's listener but applied by the
clients' Envoys to the server's endpoints (user guide `virtual_nodes.md`), which
is what the neutral `outlierDetection` of the service (or version) means; MS3302
notes that it takes Cloud Map discovery to see more than one endpoint.

A listener `connectionPool` limits the connections from the node's own Envoy to
its local application, for all callers together; App Mesh's client-side breakers
are fixed at 2147483647 (user guide `virtual_nodes.md`, `envoy-defaults.md`).
The neutral `connectionLimits` are each client's limits towards the service, so
the numbers are carried with MS3301 saying how the meaning differs; HTTP/2 and
gRPC `maxRequests` have no neutral field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters._k8s import duration
from adapters.appmesh import codes as C
from adapters.appmesh.resources import TARGET, VirtualNode

if TYPE_CHECKING:
    from adapters.appmesh.importer import Context


def import_resilience(ctx: Context) -> None:
    for each in ctx.mesh.nodes.values():
        for what in each.not_carried:
            ctx.diagnostics.append(
                C.NOT_CARRIED(
                    f"virtual node {each.name}: {what} has no neutral setting: not carried",
                    location=each.where,
                    target=TARGET,
                    hint="the next mesh configures it apart (health checks: the platform's "
                    "probes; logging: the mesh's telemetry)",
                )
            )
    for draft in ctx.services.values():
        shared = None
        if draft.all_node is not None:
            # the node standing for every endpoint carries the service's own settings
            node = ctx.node(draft.all_node)
            shared = _resilience(ctx, node) if node is not None else None
            draft.resilience = shared
        for version, node_name in draft.versions.items():
            node = ctx.node(node_name)
            found = _resilience(ctx, node) if node is not None else None
            if found and found != shared:
                draft.version_resilience[version] = found
        if draft.provider_node is not None:
            node = ctx.node(draft.provider_node)
            found = _resilience(ctx, node) if node is not None else None
            if found:
                draft.resilience = found


def _resilience(ctx: Context, node: VirtualNode) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for li in node.listeners:
        if li.outlier is not None and "outlierDetection" not in out:
            o = li.outlier
            out["outlierDetection"] = {
                "consecutive5xxErrors": o.max_server_errors,
                "interval": duration(o.interval),
                "baseEjectionTime": duration(o.base_ejection),
                "maxEjectionPercent": o.max_ejection_percent,
            }
            ctx.diagnostics.append(
                C.OUTLIER_NOTE(
                    f"virtual node {node.name}: outlier detection on its listener is applied by "
                    "its callers, as the neutral outlierDetection is; App Mesh sees several "
                    "endpoints only with Cloud Map discovery (DNS gives one)",
                    location=node.where,
                    target=TARGET,
                )
            )
        if li.pool is not None and "connectionLimits" not in out:
            p = li.pool
            limits = {
                k: v
                for k, v in (
                    ("maxConnections", p.max_connections),
                    ("maxPendingRequests", p.max_pending_requests),
                )
                if v is not None
            }
            extra = f"; maxRequests {p.max_requests} has no neutral field" if p.max_requests else ""
            ctx.diagnostics.append(
                C.POOL_SERVER_SIDE(
                    f"virtual node {node.name}: App Mesh's connection pool limits the node's own "
                    "Envoy towards its app, all callers together; the neutral connectionLimits "
                    "hold per client towards the service, so the total can be higher" + extra,
                    location=node.where,
                    target=TARGET,
                    hint="lower the limits by the number of client instances if the app "
                    "needs the total protected",
                )
            )
            if limits:
                out["connectionLimits"] = limits
    return out or None

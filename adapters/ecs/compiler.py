"""Neutral spec -> ECS services with Service Connect: one `create-service` input a
neutral service (`aws ecs create-service --cli-input-json`), each port a Service
Connect service with one client alias `name.namespace`.

Service Connect has names, ports, a per-request and an idle timeout per port, and
one-way TLS (ECS API reference `ServiceConnectService`, `TimeoutConfiguration`,
`ServiceConnectTlsConfiguration`). Every request to an endpoint goes round robin to
all tasks of the ECS service; retries and outlier detection are its proxy's own,
without settings (developer guide, "Service Connect"). Everything else in the spec is
reported: routing, splits and retries as warnings, authorization and mTLS modes that
check the client as errors in their areas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from adapters.ecs import codes as C
from adapters.ecs.names import (
    API,
    KEY_TAG,
    MAX_DISCOVERY_NAME,
    MAX_DNS_NAME,
    ROUTE_TAG,
    SERVICE,
    TASK_DEFINITION,
    cloud_map_namespace,
    discovery_name,
    dns_name,
    service_name,
)
from adapters.kit import CompileContext
from meshspec.diagnostics import Diagnostic
from meshspec.spec import MtlsMode, Spec
from meshspec.spec.routes import Route
from meshspec.spec.service import Port, Protocol, ServiceSpec

TARGET = "ecs-service-connect"
#: TimeoutConfiguration.perRequestTimeoutSeconds when unset (ECS Service Connect
#: developer guide; UNVERIFIED in the API reference, which gives no default)
DEFAULT_PER_REQUEST = 15
#: the Private CA every TLS service names; the spec has no such ARN (MS7510)
PCA_PLACEHOLDER = "arn:aws:acm-pca:REGION:ACCOUNT:certificate-authority/FILL-IN"
_HINT = "Service Connect's settings are names, ports, timeouts and TLS (see the adapter README)"


def compile_services(spec: Spec, workloads: bool) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    ctx = CompileContext(spec, TARGET)
    namespace = cloud_map_namespace(spec)
    tasks: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    tls_needed = False
    for key, svc in spec.services.items():
        body = svc.spec
        name, ns = svc.metadata.name, svc.metadata.namespace
        _report_losses(ctx, key, body)
        by_port = _modes(spec, body)
        modes = set(by_port.values())
        if modes - {MtlsMode.DISABLE}:
            tls_needed = True
            own = body.mtls is not None and (
                body.mtls.mode not in (None, MtlsMode.DISABLE)
                or set(body.mtls.ports.values()) - {MtlsMode.DISABLE}
            )
            if own:
                _no_mutual_tls(ctx, key, modes)
        seconds, route_name = _timeout(ctx, key, body.routes)
        entries = []
        for i, port in enumerate(body.ports):
            entries.append(
                _entry(ctx, key, ns, name, i, port, seconds, by_port[port.port] != MtlsMode.DISABLE)
            )
        config = {"enabled": True, "namespace": namespace, "services": entries}
        tags = [{"key": KEY_TAG, "value": key}]
        if route_name:
            tags.append({"key": ROUTE_TAG, "value": route_name})
        services.append(
            {
                "apiVersion": API,
                "kind": SERVICE,
                "serviceName": service_name(ns, name),
                "taskDefinition": service_name(ns, name),
                "serviceConnectConfiguration": config,
                "tags": tags,
            }
        )
        if workloads:
            tasks.append(_task_definition(ns, name, body.ports))
    if spec.mesh.mtls.mode is not MtlsMode.DISABLE and spec.services:
        _no_mutual_tls(ctx, "mesh", {spec.mesh.mtls.mode})
    if tls_needed:
        ctx.diagnostics.append(
            C.TLS_AUTHORITY(
                f"TLS names the AWS Private CA {PCA_PLACEHOLDER}",
                target=TARGET,
                hint="replace it with your Private CA's ARN (and kmsKey, roleArn if you use them)",
            )
        )
    if spec.services:
        ctx.diagnostics.append(
            C.NAMESPACES_MERGED(
                f"every service is in the Cloud Map namespace {namespace!r}; "
                "clients call a service as name.namespace (a bare name is not an endpoint)",
                target=TARGET,
                hint="Service Connect connects the services of one namespace only",
            )
        )
    return [*tasks, *services], ctx.diagnostics


def _no_mutual_tls(ctx: CompileContext, key: str, modes: set[MtlsMode]) -> None:
    shown = ", ".join(sorted(m.value for m in modes - {MtlsMode.DISABLE}))
    ctx.report(
        C.NO_MUTUAL_TLS,
        key,
        ("spec", "mtls"),
        f"mTLS {shown}: Service Connect TLS encrypts and checks the server's certificate "
        "only; written as TLS",
        "the client's identity is not checked: add authorization in the application, "
        "or accept with --allow-lossy mtls",
    )


def _modes(spec: Spec, body: ServiceSpec) -> dict[int, MtlsMode]:
    """The mTLS mode of each of the service's ports, the mesh's where it sets none."""
    mode = spec.mesh.mtls.mode
    if body.mtls is not None and body.mtls.mode is not None:
        mode = body.mtls.mode
    ports = body.mtls.ports if body.mtls is not None else {}
    return {p.port: ports.get(p.port, mode) for p in body.ports}


def _entry(
    ctx: CompileContext,
    key: str,
    namespace: str,
    name: str,
    index: int,
    port: Port,
    seconds: int,
    tls: bool,
) -> dict[str, Any]:
    port_name = port_mapping_name(port)
    discovery = discovery_name(namespace, name, index, port_name)
    alias = dns_name(namespace, name)
    for what, value, limit in (
        ("discoveryName", discovery, MAX_DISCOVERY_NAME),
        ("dnsName", alias, MAX_DNS_NAME),
    ):
        if len(value) > limit:
            ctx.report(
                C.NAME_TOO_LONG,
                key,
                ("metadata", "name"),
                f"{what} {value!r} is longer than {limit} characters",
                "shorten the service's name or namespace",
            )
    entry: dict[str, Any] = {
        "portName": port_name,
        "discoveryName": discovery,
        "clientAliases": [{"port": port.port, "dnsName": alias}],
    }
    # perRequestTimeout only for HTTP, HTTP2 and gRPC (TimeoutConfiguration)
    if port.protocol is not Protocol.TCP:
        entry["timeout"] = {"perRequestTimeoutSeconds": seconds}
    if tls:
        entry["tls"] = {"issuerCertificateAuthority": {"awsPcaAuthorityArn": PCA_PLACEHOLDER}}
    return entry


def port_mapping_name(port: Port) -> str:
    """The task definition's port mapping the Service Connect service selects."""
    return port.name or f"{port.protocol.value}-{port.port}"


def _timeout(ctx: CompileContext, key: str, routes: Iterable[Route]) -> tuple[int, str]:
    """One per-request timeout for every port, and the route it comes from when the
    service's only route is a catch-all. The neutral default is 15 s, as Service
    Connect's; `0` disables both. Routes disagreeing: the longest wins (no request is cut
    shorter than the spec says), the others are reported."""
    routes = list(routes)
    timeouts = [DEFAULT_PER_REQUEST if r.timeout is None else r.timeout for r in routes]
    chosen = math.inf if 0 in timeouts else max(timeouts, default=DEFAULT_PER_REQUEST)
    for i, (route, t) in enumerate(zip(routes, timeouts, strict=True)):
        if (t or math.inf) != chosen:
            ctx.report(
                C.TIMEOUT_MERGED,
                key,
                ("spec", "routes", i, "timeout"),
                f"route {route.name!r} times out after {t:g}s; Service Connect applies "
                f"{'no timeout' if chosen == math.inf else f'{chosen:g}s'} to every request",
                "Service Connect's timeout is per port, not per route",
            )
    seconds = 0 if chosen == math.inf else math.ceil(chosen)
    if chosen != math.inf and seconds != chosen:
        index = timeouts.index(chosen)
        ctx.report(
            C.TIMEOUT_ROUNDED,
            key,
            ("spec", "routes", index, "timeout"),
            f"timeout {chosen:g}s written as {seconds}s",
            "perRequestTimeoutSeconds is an integer",
        )
    only = routes[0] if len(routes) == 1 and not routes[0].matches else None
    return seconds, only.name if only is not None else ""


def _report_losses(ctx: CompileContext, key: str, body: ServiceSpec) -> None:
    if body.authorization is not None:
        ctx.report(
            C.NO_AUTHORIZATION,
            key,
            ("spec", "authorization"),
            "authorization left out: every task in the namespace may call the service",
            "limit callers with security groups, or accept with --allow-lossy authz",
        )
    if body.resilience is not None:
        ctx.report(C.RESILIENCE_LOST, key, ("spec", "resilience"), "resilience left out", _HINT)
    for j, version in enumerate(body.versions):
        if version.resilience is not None:
            path = ("spec", "versions", j, "resilience")
            ctx.report(C.RESILIENCE_LOST, key, path, "resilience left out", _HINT)
    for i, route in enumerate(body.routes):
        where = ("spec", "routes", i)
        if route.matches:
            ctx.report(
                C.ROUTING_LOST,
                key,
                (*where, "matches"),
                f"route {route.name!r}: its matches are left out; a request it does not "
                "match is forwarded, not answered 404",
                _HINT,
            )
        elsewhere = [b for b in route.backends if b.service is not None or b.version is not None]
        if elsewhere or len([b for b in route.backends if b.weight > 0]) > 1:
            ctx.report(
                C.SPLIT_LOST,
                key,
                (*where, "backends"),
                f"route {route.name!r}: every request goes to all tasks of the service",
                "run each version as its own ECS service and name it, or use ECS "
                "blue/green deployments for a shift",
            )
        if route.retries is not None and route.retries.attempts > 0:
            ctx.report(C.RETRIES_LOST, key, (*where, "retries"), "retry policy left out", _HINT)
        if route.request_headers is not None:
            path = (*where, "requestHeaders")
            ctx.report(C.HEADER_EDITS_LOST, key, path, "header edits left out", _HINT)


def _task_definition(namespace: str, name: str, ports: Iterable[Port]) -> dict[str, Any]:
    """The `register-task-definition` input Service Connect needs: a named port mapping
    per port, with its `appProtocol` (the image and the size are the user's)."""
    mappings = []
    for port in ports:
        mapping: dict[str, Any] = {
            "name": port_mapping_name(port),
            "containerPort": port.target_port or port.port,
            "protocol": "tcp",
        }
        if port.protocol is not Protocol.TCP:
            mapping["appProtocol"] = "grpc" if port.protocol is Protocol.GRPC else "http"
        mappings.append(mapping)
    return {
        "apiVersion": API,
        "kind": TASK_DEFINITION,
        "family": service_name(namespace, name),
        "networkMode": "awsvpc",
        # the smallest Fargate size: a placeholder, like the image
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {"name": name, "image": f"{name}:latest", "essential": True, "portMappings": mappings}
        ],
    }

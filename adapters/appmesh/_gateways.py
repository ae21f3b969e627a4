"""Gateway routes are App Mesh's ingress: a request reaching a virtual gateway is sent
to a virtual service by the first gateway route that matches (API reference
`GatewayRouteSpec`, `HttpGatewayRouteMatch`: `prefix`, `path.exact`; the target's
`virtualService.virtualServiceName`). The neutral spec has east-west policy only, no
ingress, so a gateway route is not carried; what it changes is said with a request:
the request the route sends through the gateway, which after the move no mesh route
sends there.

Every form (controller resources, CloudFormation, Terraform, CLI JSON) spells the
fields its own way (`httpRoute`, `HttpRoute`, `http_route`, lists of one block in
HCL); they are compared without case or `_`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.appmesh import codes as C
from meshspec.diagnostics import Diagnostic, Location

_ROUTES = ("httproute", "http2route", "grpcroute")


def _norm(key: object) -> str:
    return str(key).lower().replace("_", "")


def _get(value: Any, *path: str) -> Any:
    """`value` at `path`, keys compared without case or `_`, one-block lists unwrapped."""
    for key in path:
        while isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, Mapping):
            return None
        value = next((v for k, v in value.items() if _norm(k) == key), None)
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def gateway_route_finding(name: str, body: Any, location: Location | None) -> Diagnostic:
    """MS3111 for one gateway route (`body`: its resource or properties, any form)."""
    spec = _get(body, "spec")
    route = next(((k, _get(spec, k)) for k in _ROUTES if _get(spec, k) is not None), None)
    gateway = _get(body, "virtualgatewayname") or _get(body, "virtualgatewayref", "name") or ""
    target = ""
    path = "/"
    if route is not None:
        kind, rule = route
        virtual = _get(rule, "action", "target", "virtualservice")
        target = str(
            _get(virtual, "virtualservicename") or _get(virtual, "virtualserviceref", "name") or ""
        )
        match = _get(rule, "match")
        exact = _get(match, "path", "exact")
        prefix = _get(match, "prefix")
        service_name = _get(match, "servicename")
        if exact:
            path = str(exact)
        elif prefix:
            path = str(prefix)
        elif kind == "grpcroute" and service_name:
            path = f"/{service_name}/"
    through = f" through virtual gateway {gateway}" if gateway else " through its virtual gateway"
    to = f"virtual service {target}" if target else "its target"
    request = {"method": "GET", "target": path, "gateway": str(gateway), "destination": target}
    return C.GATEWAY_ROUTE(
        f"gateway route {name}: GET {path}{through} reaches {to} in App Mesh; the neutral "
        "spec has no ingress, so after the move no mesh route takes that request there",
        location=location,
        target="appmesh",
        hint="keep the ingress outside the mesh (a load balancer or the target mesh's own "
        "gateway) and point it at the service",
        extra={"request": request},
    )

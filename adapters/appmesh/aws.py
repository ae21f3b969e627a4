"""A live AWS account's App Mesh resources, through boto3 (`import --from appmesh
--live --region R`), and creating compiled resources in an account.

Reading lists every mesh, then describes each virtual node, router (with its
routes) and virtual service, as `aws appmesh describe-*` would print them
(AWS API reference: ListMeshes, DescribeVirtualNode, ...). The endpoint is
boto3's: `AWS_ENDPOINT_URL` points it at an emulator such as moto's server.
A call the endpoint does not answer is a finding (MS3013) naming the call; the
rest is still read. moto 5.2.5 (and the moto-ext fork, 5.1.54) have no
virtual-service calls, so against them a mesh comes back without its virtual
services.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from adapters.appmesh import codes as C
from adapters.appmesh._compile_api import ApiResources
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Origin

#: describe-* output key, list call, list result key, describe call, name field
_KINDS = (
    (
        "virtualNode",
        "list_virtual_nodes",
        "virtualNodes",
        "describe_virtual_node",
        "virtualNodeName",
    ),
    (
        "virtualRouter",
        "list_virtual_routers",
        "virtualRouters",
        "describe_virtual_router",
        "virtualRouterName",
    ),
    (
        "virtualService",
        "list_virtual_services",
        "virtualServices",
        "describe_virtual_service",
        "virtualServiceName",
    ),
)


def client(region: str) -> Any:
    try:
        import boto3
    except ImportError as exc:  # an optional dependency: say how to get it
        raise RuntimeError(
            "reading an AWS account needs boto3: pip install 'meshspec[aws]'"
        ) from exc
    return boto3.client("appmesh", region_name=region)


def _plain(value: Any) -> Any:
    """boto3's answer as JSON data (timestamps as text)."""
    return json.loads(json.dumps(value, default=str))


def _pages(call: Callable[..., Any], key: str, **args: Any) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = call(**args, **({"nextToken": token} if token else {}))
        yield from page.get(key) or []
        token = page.get("nextToken")
        if not token:
            return


def read_account(region: str, api: Any = None) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """Every App Mesh resource of the account in `region`, as describe-* documents."""
    from botocore.exceptions import BotoCoreError, ClientError

    problems: list[Diagnostic] = []
    docs: list[NativeDocument] = []
    try:
        api = api or client(region)
        meshes = list(_pages(api.list_meshes, "meshes"))
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        return [], [C.CLUSTER_UNREADABLE(f"App Mesh in {region}: {exc}", target="appmesh")]

    def add(kind: str, body: dict[str, Any], mesh: str, name: str) -> None:
        where = f"aws:{region}/{mesh}/{kind}/{name}"
        docs.append(NativeDocument({kind: _plain(body)}, Origin(where)))

    def missing(call: str, exc: Exception) -> None:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error") or {}
            status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            reason = str(error.get("Code") or status)
        else:
            reason = type(exc).__name__
        problems.append(
            C.CALL_UNANSWERED(
                f"App Mesh in {region}: {call} failed ({reason}); those resources are not read",
                target="appmesh",
                hint="an emulator may lack the call (moto 5.2.5 has no virtual-service calls)",
            )
        )

    for listed in meshes:
        mesh = listed["meshName"]
        try:
            add("mesh", api.describe_mesh(meshName=mesh)["mesh"], mesh, mesh)
        except (BotoCoreError, ClientError) as exc:
            missing("DescribeMesh", exc)
            continue
        for key, list_call, list_key, describe, name_field in _KINDS:
            step = list_call
            try:
                names = [
                    i[name_field] for i in _pages(getattr(api, list_call), list_key, meshName=mesh)
                ]
                step = describe
                for name in names:
                    body = getattr(api, describe)(meshName=mesh, **{name_field: name})[key]
                    add(key, body, mesh, name)
                    if key == "virtualRouter":
                        _routes(api, mesh, name, add)
            except (BotoCoreError, ClientError) as exc:
                missing(_call_name(step), exc)
    return docs, problems


def _routes(api: Any, mesh: str, router: str, add: Callable[..., None]) -> None:
    for listed in _pages(api.list_routes, "routes", meshName=mesh, virtualRouterName=router):
        name = listed["routeName"]
        body = api.describe_route(meshName=mesh, virtualRouterName=router, routeName=name)
        add("route", body["route"], mesh, f"{router}/{name}")


def _call_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))


def create_in_account(resources: ApiResources, api: Any) -> list[str]:
    """Create the compiled resources (mesh, nodes, routers, routes, virtual services) with
    the API's create calls; the calls that failed, by name (an emulator may lack some)."""
    from botocore.exceptions import BotoCoreError, ClientError

    failed: list[str] = []
    mesh = resources.mesh.name

    def call(name: str, **args: Any) -> None:
        try:
            getattr(api, name)(meshName=mesh, **args)
        except (BotoCoreError, ClientError):
            failed.append(_call_name(name))

    try:
        api.create_mesh(meshName=mesh, spec={"egressFilter": {"type": "DROP_ALL"}})
    except (BotoCoreError, ClientError):
        return ["CreateMesh"]
    for node in resources.nodes:
        spec = dict(node.spec)
        spec["backends"] = [{"virtualService": b} for b in spec.get("backends") or []]
        call("create_virtual_node", virtualNodeName=node.name, spec=spec)
    for router in resources.routers:
        call(
            "create_virtual_router",
            virtualRouterName=router.name,
            spec={"listeners": router.listeners},
        )
        for route in router.routes:
            call(
                "create_route", virtualRouterName=router.name, routeName=route.name, spec=route.spec
            )
    for service in resources.services:
        provider = (
            {"virtualRouter": {"virtualRouterName": service.router}}
            if service.router is not None
            else {"virtualNode": {"virtualNodeName": service.provider}}
        )
        call("create_virtual_service", virtualServiceName=service.name, spec={"provider": provider})
    return sorted(set(failed))

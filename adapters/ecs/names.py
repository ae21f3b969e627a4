"""How a neutral service is named in Service Connect, one place for compiler, importer
and model.

ECS API reference (`ServiceConnectService`, `ServiceConnectClientAlias`,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceConnectService.html):
a service's `clientAliases` hold at most one alias per port; `dnsName` defaults to
`discoveryName.namespace`; a `discoveryName` is unique within the Cloud Map namespace,
at most 64 characters (lowercase letters, digits, `_`, `-`); a `dnsName` at most 127.
Service Connect connects the services of one namespace only (developer guide, "Service
Connect concepts"), so the whole mesh is one Cloud Map namespace and a neutral service
`ns/name` is the endpoint `name.ns` (the neutral host form a client of another
namespace uses).
"""

from __future__ import annotations

from meshspec.spec import Spec

API = "ecs.amazonaws.com/2014-11-13"
SERVICE = "Service"
TASK_DEFINITION = "TaskDefinition"
#: envelope keys meshspec adds to an API input so every tool can sort and name it
ENVELOPE = ("apiVersion", "kind")
#: tags that carry the neutral names an ECS service holds
ROUTE_TAG = "meshspec.io/route"
KEY_TAG = "meshspec.io/service"

MAX_DISCOVERY_NAME = 64
MAX_DNS_NAME = 127
DEFAULT_NAMESPACE = "mesh"


def cloud_map_namespace(spec: Spec) -> str:
    """The mesh's name, else `mesh`."""
    meta = spec.mesh_metadata
    return meta.name if meta is not None and meta.name else DEFAULT_NAMESPACE


def dns_name(namespace: str, name: str) -> str:
    return f"{name}.{namespace}"


def discovery_name(namespace: str, name: str, port_index: int, port_name: str) -> str:
    base = f"{name}-{namespace}"
    return base if port_index == 0 else f"{base}-{port_name}"


def service_name(namespace: str, name: str) -> str:
    """The ECS service (and task definition family): unique in a cluster, letters,
    digits, `-` and `_` (API reference `CreateService.serviceName`)."""
    return f"{name}-{namespace}"


def key_of_dns_name(host: str) -> str:
    """`name.ns` -> `ns/name`; a name without a dot is in `default`."""
    host = host.strip().lower().rstrip(".")
    name, _, rest = host.partition(".")
    namespace = rest.split(".")[0] if rest else "default"
    return f"{namespace}/{name}"

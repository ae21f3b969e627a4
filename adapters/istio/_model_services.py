"""Where a service port lands on the pods: the Kubernetes Service's port -> targetPort.

Istio matches two things against the *workload* (container) port, the port a
request arrives on at the server sidecar, not the Service port a client dials:
AuthorizationPolicy `to.operation.ports` (and the `destination.port` condition),
which become Envoy RBAC `destination_port` permissions on the inbound listener
(istio/istio `pilot/pkg/security/authz/model/permission.go`), and
PeerAuthentication `portLevelMtls` ("the port refers to the port of the workload,
not the port of the Kubernetes service", istio/api
`security/v1beta1/peer_authentication.proto`; istiod looks the mode up by the
endpoint port, `getMutualTLSModeForPort(endpointPort)`, istio/istio PR #20925; the
same note for AuthorizationPolicy ports came with istio/api PR #3075 after
istio/istio issue #49098). VirtualService
`match.port` and DestinationRule `portLevelSettings.port` name the Service port
("a port on the destination service", `networking/v1alpha3/destination_rule.proto`).

istiod learns the mapping from Kubernetes Services. So does this model: a `v1`
`Service` among the resources sets the mapping of the workload with its name and
namespace; otherwise the topology's `target_ports` (the platform facts: for a
spec, its `targetPort` fields). A port known to neither lands on the same
number, which is what Kubernetes does when `targetPort` is left out. A named
`targetPort` refers to a container port name the resources do not carry: the
model keeps the topology's answer for it (else the same number).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from meshspec.adapter import Topology


def _service_target_ports(service: Mapping[str, Any], known: Mapping[int, int]) -> dict[int, int]:
    out = dict(known)
    for p in (service.get("spec") or {}).get("ports") or ():
        if not isinstance(p, Mapping) or p.get("port") is None:
            continue
        port, target = int(p["port"]), p.get("targetPort")
        if target is None:
            out[port] = port  # Kubernetes: targetPort defaults to port
        elif isinstance(target, int) and not isinstance(target, bool):
            out[port] = target
        elif isinstance(target, str) and target.isdigit():
            out[port] = int(target)
        # a named targetPort: the container port's number is not in the resources
    return out


def with_services(resources: Sequence[Mapping[str, Any]], topology: Topology) -> Topology:
    """The topology with the port mappings of the Kubernetes Services among `resources`."""
    workloads = dict(topology.workloads)
    changed = False
    for res in resources:
        if res.get("kind") != "Service" or res.get("apiVersion") != "v1":
            continue
        meta = res.get("metadata") or {}
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
        workload = workloads.get(key)
        if workload is None:
            continue
        mapping = _service_target_ports(res, workload.target_ports)
        workloads[key] = replace(workload, target_ports=mapping)
        changed = True
    return replace(topology, workloads=workloads) if changed else topology

"""Which mTLS mode a server port enforces and what the client sidecar sends.

Server side (istio/api `security/v1beta1/peer_authentication.proto`): the most
specific PeerAuthentication wins: workload (selector, in the workload's namespace)
over namespace (no selector) over mesh (root namespace `istio-system`, no selector);
selector policies in the root namespace are ignored; `portLevelMtls` (only with a
selector) overrides the workload mode for one port; `UNSET` inherits from the next
scope; nothing at all means PERMISSIVE. Among equals the oldest (first) wins.

Client side (`networking/v1alpha3/destination_rule.proto`, `ClientTLSSettings`):
auto-mTLS sends Istio mTLS unless the server disables it; a DestinationRule
`tls.mode` overrides that (DISABLE = plaintext, ISTIO_MUTUAL = mTLS); DISABLE
towards a STRICT port breaks the connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.istio._model_names import host_covers, selector_matches
from adapters.istio.resources import ROOT_NAMESPACE
from meshspec.adapter import Topology
from meshspec.semantics import Transport
from meshspec.spec import MtlsMode

_MODES = {m.value: m for m in MtlsMode}


def _namespace(res: Mapping[str, Any]) -> str:
    return str((res.get("metadata") or {}).get("namespace") or "default")


def _mode(value: Any) -> MtlsMode | None:
    if isinstance(value, Mapping):
        value = value.get("mode")
    return _MODES.get(str(value).upper()) if value is not None else None


def server_mode(
    resources: Sequence[Mapping[str, Any]],
    namespace: str,
    labels: Mapping[str, str],
    port: int,
) -> MtlsMode:
    workload: Mapping[str, Any] | None = None
    namespace_wide: Mapping[str, Any] | None = None
    mesh: Mapping[str, Any] | None = None
    for res in resources:
        if res.get("kind") != "PeerAuthentication":
            continue
        spec = res.get("spec") or {}
        ns = _namespace(res)
        selector = spec.get("selector")
        if selector is not None:
            if ns == namespace and ns != ROOT_NAMESPACE and selector_matches(selector, labels):
                workload = workload or spec
        elif ns == namespace:
            namespace_wide = namespace_wide or spec
        elif ns == ROOT_NAMESPACE:
            mesh = mesh or spec
    if namespace == ROOT_NAMESPACE and namespace_wide is not None:
        mesh = namespace_wide
    candidates: list[MtlsMode | None] = []
    if workload is not None:
        port_level = workload.get("portLevelMtls") or {}
        for key, value in port_level.items():
            if int(key) == port:
                candidates.append(_mode(value))
        candidates.append(_mode(workload.get("mtls")))
    for scope in (namespace_wide, mesh):
        if scope is not None:
            candidates.append(_mode(scope.get("mtls")))
    for mode in candidates:
        if mode is not None:
            return mode
    return MtlsMode.PERMISSIVE


def destination_rule_for(
    resources: Sequence[Mapping[str, Any]], key: str, client_ns: str, topology: Topology
) -> Mapping[str, Any] | None:
    """Lookup order: client namespace, service namespace, root namespace (§2.1)."""
    service_ns = topology.workloads[key].namespace
    found: dict[str, Mapping[str, Any]] = {}
    for res in resources:
        if res.get("kind") != "DestinationRule":
            continue
        ns = _namespace(res)
        host = str((res.get("spec") or {}).get("host", ""))
        if host_covers(host, ns, key, topology):
            found.setdefault(ns, res)
    for ns in (client_ns, service_ns, ROOT_NAMESPACE):
        if ns in found:
            return found[ns]
    return None


def client_tls(rule: Mapping[str, Any] | None, subset: str | None, port: int) -> str | None:
    """The DestinationRule `tls.mode` for the traffic, most specific setting first."""
    if rule is None:
        return None
    spec = rule.get("spec") or {}
    policies: list[Any] = []
    for s in spec.get("subsets") or ():
        if subset is not None and s.get("name") == subset:
            policies.append(s.get("trafficPolicy"))
    policies.append(spec.get("trafficPolicy"))
    for policy in policies:
        if not isinstance(policy, Mapping):
            continue
        for setting in policy.get("portLevelSettings") or ():
            if (setting.get("port") or {}).get("number") == port and setting.get("tls"):
                return str(setting["tls"].get("mode", "")).upper() or None
        tls = policy.get("tls")
        if isinstance(tls, Mapping) and tls.get("mode"):
            return str(tls["mode"]).upper()
    return None


def connection(server: MtlsMode, tls_mode: str | None, client_in_mesh: bool) -> Transport:
    """What the connection becomes for the server port's mode and the client's choice."""
    if not client_in_mesh:
        sends_mtls = False
    elif tls_mode is None:
        sends_mtls = server is not MtlsMode.DISABLE
    else:
        sends_mtls = tls_mode == "ISTIO_MUTUAL"
        if tls_mode in ("SIMPLE", "MUTUAL"):
            # TLS with certificates that are not the mesh's: the sidecar cannot accept it.
            return Transport.REFUSED
    if sends_mtls:
        return Transport.REFUSED if server is MtlsMode.DISABLE else Transport.MTLS
    return Transport.REFUSED if server is MtlsMode.STRICT else Transport.PLAINTEXT

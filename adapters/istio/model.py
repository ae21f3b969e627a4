"""What Istio does with a request, read from Istio's own resources and documentation.

This is the Istio adapter's *model*: an interpreter of VirtualService,
DestinationRule, PeerAuthentication and AuthorizationPolicy objects written from
Istio's docs and sources (cited in the `_model_*` modules), never from the neutral
oracle. Where its answers differ from the oracle's, either the compiler or the
importer lost meaning, or a default Istio install really behaves differently (path
normalisation is the notable case: see `_model_paths`).

A request travels: the client sidecar normalises the path, picks the
VirtualService rule (or the default route), then each destination's sidecar checks
its port's mTLS mode and the authorization policies. A client outside the mesh has
no sidecar: no VirtualService, no retries, no timeout, plaintext.

Ports: the client picks routes and DestinationRule port settings by the Service
port; the server sidecar sees the workload port (the Service's targetPort) and
checks PeerAuthentication `portLevelMtls` and AuthorizationPolicy `ports` against
it. The port -> targetPort mapping comes from Kubernetes Services among the
resources, else from the topology, else a port lands on its own number
(`_model_services`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

from adapters.istio._model_authz import Peer, applicable, evaluate
from adapters.istio._model_breakers import breaker_policy
from adapters.istio._model_headers import HeaderLines, edited_headers, edited_lines
from adapters.istio._model_mtls import client_tls, connection, destination_rule_for, server_mode
from adapters.istio._model_names import pod_labels, resolve
from adapters.istio._model_paths import BadTarget, PathNormalization, normalize
from adapters.istio._model_routes import (
    RequestView,
    destinations,
    first_matching_rule,
    retry_policy,
    route_timeout,
    virtual_service_for,
)
from adapters.istio._model_services import with_services
from adapters.kit.envoy import header_lines, header_values
from meshspec.adapter import Topology, Verdict, Workload
from meshspec.semantics import (
    BackendResult,
    BreakerPolicy,
    Outcome,
    Request,
    RetryPolicy,
    Transport,
    choose_port,
    roll_up,
)
from meshspec.spec import MtlsMode

__all__ = ["IstioModel", "PathNormalization"]

T = TypeVar("T")


class UnknownWorkload(LookupError):
    """The request names a service the topology does not have."""


@dataclass(frozen=True)
class _Share:
    key: str
    subset: str | None
    weight: int
    port: int
    mode: MtlsMode
    transport: Transport
    allowed: bool | None
    rule: str | None
    defined: bool
    breaker: BreakerPolicy


class IstioModel:
    """Istio's answer for requests over `resources`, deployed as `topology` says."""

    def __init__(
        self,
        resources: Sequence[Mapping[str, Any]],
        topology: Topology,
        path_normalization: str | PathNormalization = PathNormalization.BASE,
    ) -> None:
        self.resources = list(resources)
        self.topology = with_services(self.resources, topology)
        self.path_normalization = PathNormalization(path_normalization)
        # The resources never change under a model: each lookup over them is kept,
        # and each reads only the kind it looks for (in the resources' order).
        self._lookups: dict[tuple[object, ...], Any] = {}
        self._kinds: dict[str, list[Mapping[str, Any]]] = {}
        for res in self.resources:
            self._kinds.setdefault(str(res.get("kind")), []).append(res)

    def _of(self, kind: str) -> list[Mapping[str, Any]]:
        return self._kinds.get(kind, [])

    def _remembered(self, key: tuple[object, ...], lookup: Callable[[], T]) -> T:
        if key not in self._lookups:
            self._lookups[key] = lookup()
        return cast(T, self._lookups[key])

    def decide(self, request: Request) -> Verdict:
        topo = self.topology
        source = None if request.source is None else resolve(request.source, topo)
        if request.source is not None and source is None:
            raise UnknownWorkload(f"no workload {request.source!r}")
        client_ns = None if source is None else topo.workloads[source].namespace
        dest = resolve(request.destination, topo, client_ns)
        if dest is None:
            raise UnknownWorkload(f"no workload {request.destination!r}")
        workload = topo.workloads[dest]
        ports = dict(workload.ports)
        if request.port is not None and request.port not in ports:
            return Verdict(Outcome.UNKNOWN_PORT, None)
        port = self._port(dest, request.port)
        if ports[port] == "tcp":
            return Verdict(Outcome.NOT_HTTP, None)
        target = normalize(request.target, self.path_normalization)
        if isinstance(target, BadTarget):
            return Verdict(Outcome.BAD_REQUEST, 400)
        headers = header_values(request.headers)
        lines = header_lines(request.headers)
        if source is None:
            return self._finish(
                request,
                None,
                dest,
                target.path,
                (headers, lines),
                None,
                [(dest, None, None, 1)],
                None,
            )
        view = RequestView(
            method=request.method,
            target=target,
            headers=lines,
            port=port,
            source_namespace=client_ns,
            source_labels={"app": topo.workloads[source].name},
        )
        vs = self._remembered(
            ("vs", dest), lambda: virtual_service_for(self._of("VirtualService"), dest, topo)
        )
        if vs is None:
            return self._finish(
                request,
                source,
                dest,
                target.path,
                (headers, lines),
                None,
                [(dest, None, None, 1)],
                None,
                retry_policy(None),
            )
        hit = first_matching_rule((vs.get("spec") or {}).get("http") or [], view)
        if hit is None:
            return Verdict(Outcome.NO_ROUTE, 404)
        _, rule = hit
        vs_ns = str((vs.get("metadata") or {}).get("namespace") or "default")
        targets: list[tuple[str, str | None, int | None, int]] = []
        for d in destinations(rule, vs_ns, topo):
            if d.key is None:
                continue
            targets.append((d.key, d.subset, d.port, d.weight))
        if not targets:
            return Verdict(Outcome.UNAVAILABLE, 503, route=rule.get("name"))
        return self._finish(
            request,
            source,
            dest,
            target.path,
            (edited_headers(headers, rule), edited_lines(lines, rule)),
            rule.get("name"),
            targets,
            route_timeout(rule),
            retry_policy(rule.get("retries")),
        )

    def _port(self, key: str, requested: int | None) -> int:
        return choose_port(self.topology.workloads[key].ports, requested)

    def _finish(
        self,
        request: Request,
        source: str | None,
        dest: str,
        path: str,
        received: tuple[Mapping[str, str], HeaderLines],
        route: str | None,
        targets: list[tuple[str, str | None, int | None, int]],
        timeout: float | None,
        retries: RetryPolicy | None = None,
    ) -> Verdict:
        topo = self.topology
        headers, lines = received
        client_ns = None if source is None else topo.workloads[source].namespace
        principal = None
        if source is not None:
            src = topo.workloads[source]
            principal = f"{topo.trust_domain}/ns/{src.namespace}/sa/{src.service_account}"
        shares: list[_Share] = []
        for key, subset, dport, weight in targets:
            workload = topo.workloads[key]
            port = dport if dport is not None else self._port(key, request.port)
            dr = None
            if client_ns is not None:
                dr = self._remembered(
                    ("dr", key, client_ns),
                    partial(
                        destination_rule_for, self._of("DestinationRule"), key, client_ns, topo
                    ),
                )
            versions = None if subset is None else _subset_versions(dr, subset, workload)
            defined = subset is None or bool(versions)
            labels = pod_labels(workload, versions[0] if versions and len(versions) == 1 else None)
            # the server sidecar sees the workload port, not the Service port
            arrival = workload.workload_port(port)
            selected = tuple(sorted(labels.items()))
            mode = self._remembered(
                ("mode", workload.namespace, selected, arrival),
                partial(
                    server_mode, self._of("PeerAuthentication"), workload.namespace, labels, arrival
                ),
            )
            conn = connection(mode, client_tls(dr, subset, port), source is not None)
            allowed, rule = None, None
            if conn is not Transport.REFUSED:
                peer = Peer(
                    principal=principal if conn is Transport.MTLS else None,
                    method=request.method,
                    path=path,
                    headers=lines,
                    port=arrival,
                    host=request.destination,
                    trust_domain=topo.trust_domain,
                )
                policies = self._remembered(
                    ("authz", workload.namespace, selected),
                    partial(
                        applicable, self._of("AuthorizationPolicy"), workload.namespace, labels
                    ),
                )
                result = evaluate(policies, peer)
                allowed, rule = result.allowed, result.rule
            breaker = breaker_policy(dr, subset, port)
            shares.append(
                _Share(key, subset, weight, port, mode, conn, allowed, rule, defined, breaker)
            )
        return _verdict(shares, route, timeout, retries or RetryPolicy(), headers)


def _subset_versions(rule: Mapping[str, Any] | None, subset: str, workload: Workload) -> list[str]:
    """The deployed versions a subset's labels select. A subset no DestinationRule
    defines, or one that selects no pod, has no endpoints: 503 (semantics.md §2.3)."""
    if rule is None:
        return []
    for s in (rule.get("spec") or {}).get("subsets") or ():
        if s.get("name") == subset:
            wanted = {str(k): str(v) for k, v in (s.get("labels") or {}).items()}
            if not workload.versions:  # unversioned pods carry only `app`
                selects_all = all(pod_labels(workload, None).get(k) == v for k, v in wanted.items())
                return [subset] if selects_all else []
            return [
                name
                for name in workload.versions
                if all(pod_labels(workload, name).get(k) == v for k, v in wanted.items())
            ]
    return []


def _verdict(
    shares: list[_Share],
    route: str | None,
    timeout: float | None,
    retries: RetryPolicy,
    headers: Mapping[str, str],
) -> Verdict:
    live = [s for s in shares if s.weight > 0]
    total = sum(s.weight for s in live)
    outcome, status = roll_up(
        [BackendResult(s.transport is Transport.REFUSED, s.allowed, s.defined) for s in live]
    )
    backends: dict[tuple[str, str | None], float] = {}
    breakers: dict[tuple[str, str | None], BreakerPolicy] = {}
    for s in live:
        k = (s.key, s.subset)
        backends[k] = round(backends.get(k, 0.0) + s.weight / total, 6)
        breakers.setdefault(k, s.breaker)
    first = live[0] if live else None
    authz = None
    if first is not None and first.allowed is not None:
        authz = "allow" if first.allowed else "deny"
    return Verdict(
        outcome=outcome,
        status=status,
        route=route,
        backends=backends,
        authz=authz,
        authz_rule=None if first is None else first.rule,
        mtls=shares[0].mode if shares else None,
        transport=shares[0].transport if shares else None,
        timeout=timeout,
        retries=retries,
        breakers=breakers,
        headers=dict(headers) if shares else None,
    )

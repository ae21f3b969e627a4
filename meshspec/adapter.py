"""What every target adapter provides, and the neutral types it trades in.

An adapter compiles a `Spec` into native resources, imports native resources
back into a `Spec`, and carries a *model*: its own reading of the mesh's
documented behaviour over native resources. Models answer with a `Verdict`,
the comparable part of a decision; the oracle's `Decision` projects onto the
same type, which is how the conformance suite compares them. Models never
call the oracle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from meshspec.diagnostics import Diagnostic
from meshspec.semantics import BreakerPolicy, Decision, Request, RetryPolicy, Transport
from meshspec.spec import MtlsMode, Origin, Spec

SECURITY_AREAS = frozenset({"mtls", "authz"})


@dataclass(frozen=True)
class NativeDocument:
    """One native resource as read from a file (or a cluster), with its origin."""

    data: Mapping[str, Any]
    origin: Origin

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        meta = self.data.get("metadata") or {}
        return str(meta.get("name", "")) if isinstance(meta, Mapping) else ""

    @property
    def namespace(self) -> str:
        meta = self.data.get("metadata") or {}
        ns = meta.get("namespace") if isinstance(meta, Mapping) else None
        return str(ns) if ns else "default"


@dataclass(frozen=True)
class CompileOptions:
    #: Security areas ("mtls", "authz") whose losses are accepted as warnings.
    allow_lossy: frozenset[str] = frozenset()
    #: Also write the platform objects the mesh's resources assume (service
    #: accounts, services with their ports, workloads with their labels), where the
    #: target has such objects.
    workloads: bool = False


@dataclass
class CompileResult:
    resources: list[dict[str, Any]]
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class ImportResult:
    spec: Spec | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: The neutral documents as plain data, ready to write as YAML.
    documents: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """The comparable outcome of one request, whoever decided it."""

    outcome: str
    status: int | None
    route: str | None = None
    #: share of traffic per (service key, version); versions None = all endpoints
    backends: Mapping[tuple[str, str | None], float] = field(default_factory=dict)
    authz: str | None = None
    authz_rule: str | None = None
    mtls: MtlsMode | None = None
    transport: Transport | None = None
    timeout: float | None = None
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    #: outlier detection and connection limits per backend that gets traffic, same keys
    breakers: Mapping[tuple[str, str | None], BreakerPolicy] = field(default_factory=dict)
    #: request headers the backends receive after the route's edits; None when none is reached
    headers: Mapping[str, str] | None = None

    @classmethod
    def of(cls, decision: Decision) -> Verdict:
        total = sum(b.weight for b in decision.backends)
        shares: dict[tuple[str, str | None], float] = {}
        breakers: dict[tuple[str, str | None], BreakerPolicy] = {}
        for b in decision.backends:
            if b.weight and total:
                key = (b.service, b.version)
                shares[key] = round(shares.get(key, 0.0) + b.weight / total, 6)
                breakers.setdefault(key, b.breaker)
        authz = decision.authz
        return cls(
            outcome=str(decision.outcome),
            status=decision.status,
            route=decision.route,
            backends=shares,
            authz=None if authz is None else str(authz.decision),
            authz_rule=None if authz is None else authz.rule,
            mtls=decision.mtls,
            transport=decision.transport,
            timeout=decision.timeout,
            retries=decision.retries,
            breakers=breakers,
            headers=dict(decision.headers) if decision.backends else None,
        )

    def differences(self, other: Verdict, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """Fields whose values differ: name -> (self's, other's)."""
        names = fields or [
            "outcome",
            "status",
            "route",
            "backends",
            "authz",
            "mtls",
            "transport",
            "timeout",
            "retries",
            "breakers",
            "headers",
        ]
        out: dict[str, Any] = {}
        for name in names:
            a, b = getattr(self, name), getattr(other, name)
            if name == "backends":
                a, b = _round_shares(a), _round_shares(b)
            elif name in ("breakers", "headers"):
                a, b = (None if a is None else dict(a)), (None if b is None else dict(b))
            if a != b:
                out[name] = (a, b)
        return out


def _round_shares(shares: Mapping[tuple[str, str | None], float]) -> dict[Any, float]:
    return {k: round(v, 4) for k, v in shares.items() if v > 0}


@dataclass(frozen=True)
class Workload:
    """A deployed service as the platform sees it (not policy): who runs where."""

    key: str
    namespace: str
    name: str
    service_account: str
    #: (port, protocol) pairs
    ports: tuple[tuple[int, str], ...]
    #: version name -> pod labels selecting it
    versions: Mapping[str, Mapping[str, str]]
    #: service port -> the workload port it lands on (a Kubernetes Service's
    #: targetPort); a port left out lands on the same number
    target_ports: Mapping[int, int] = field(default_factory=dict)

    def workload_port(self, port: int) -> int:
        """Where a request to service port `port` arrives at the pods."""
        return self.target_ports.get(port, port)


@dataclass(frozen=True)
class Topology:
    """The workloads a model runs over: the deployment facts, not the policy.

    A mesh's resources say how traffic is treated; which services, ports,
    service accounts and version labels exist comes from the platform
    (Kubernetes Services and Deployments). Models take both.
    """

    trust_domain: str
    workloads: Mapping[str, Workload]

    @classmethod
    def of(cls, spec: Spec) -> Topology:
        workloads = {}
        for key, svc in spec.services.items():
            workloads[key] = Workload(
                key=key,
                namespace=svc.metadata.namespace,
                name=svc.metadata.name,
                service_account=spec.service_account(key),
                ports=tuple((p.port, str(p.protocol)) for p in svc.spec.ports),
                versions={v.name: v.selector for v in svc.spec.versions},
                target_ports={
                    p.port: p.target_port for p in svc.spec.ports if p.target_port is not None
                },
            )
        return cls(spec.mesh.trust_domain, workloads)


@runtime_checkable
class MeshModel(Protocol):
    """A mesh's behaviour over its native resources, as its docs describe it."""

    def decide(self, request: Request) -> Verdict: ...


@runtime_checkable
class Adapter(Protocol):
    name: str
    description: str
    #: Feature names (conformance vocabulary) the model can answer for.
    features: frozenset[str]

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult: ...

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult: ...

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel: ...

"""What every target adapter provides (the `Adapter` contract), and the neutral
types it trades in.

An adapter compiles a `Spec` into native resources, imports native resources
back into a `Spec`, and carries a *model*: its own reading of the mesh's
documented behaviour over native resources. Models answer with a `Verdict`,
the comparable part of a decision; the oracle's `Decision` projects onto the
same type, which is how the conformance suite compares them. Models never
call the oracle.

Everything else a tool needs to know about a target is declared on the
adapter too, so no caller keeps a table per mesh: the kinds it writes (in
apply order), the features it has and the ones it cannot have (with why), its
block of diagnostic codes, how workloads join the mesh, and how to read its
resources from a cluster (when it can).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol, runtime_checkable

from meshspec.codes import CodeBlock
from meshspec.diagnostics import Diagnostic, Severity
from meshspec.features import Feature
from meshspec.semantics import BreakerPolicy, Decision, Outcome, Request, RetryPolicy, Transport
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


def apply_lossy_policy(
    diagnostics: Iterable[Diagnostic], allow_lossy: Iterable[str]
) -> list[Diagnostic]:
    """Security losses stay errors unless their area ("mtls", "authz", or "all") is allowed."""
    allowed = set(allow_lossy)
    if "all" in allowed:
        allowed |= SECURITY_AREAS
    out = []
    for d in diagnostics:
        if d.area in SECURITY_AREAS and d.severity is Severity.ERROR and d.area in allowed:
            d = replace(
                d, severity=Severity.WARNING, hint=(d.hint + " (allowed by --allow-lossy)").strip()
            )
        out.append(d)
    return out


@dataclass(frozen=True)
class CompileOptions:
    #: Security areas ("mtls", "authz", or "all") whose losses are accepted as warnings.
    allow_lossy: frozenset[str] = frozenset()
    #: Also write the platform objects the mesh's resources assume (service
    #: accounts, services with their ports, workloads with their labels), where the
    #: target has such objects.
    workloads: bool = False
    #: Another form of the same resources, one of the adapter's `forms` (App Mesh's
    #: CloudFormation template); None: the adapter's native resources.
    form: str | None = None

    def settle(self, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
        """The compile's findings under these options: every adapter's `compile` returns
        its diagnostics through this, so a direct caller gets the same fail-closed
        answer as the command line (a disallowed security loss is an error)."""
        return apply_lossy_policy(diagnostics, self.allow_lossy)


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

    outcome: Outcome
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
            outcome=decision.outcome,
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


class Kind(NamedTuple):
    """A native resource kind, as the API server names it."""

    api_version: str
    kind: str


@dataclass(frozen=True)
class Injection:
    """How a workload joins the mesh: what its namespace carries.

    `labels` and `annotations` put a namespace's pods in the mesh (their
    proxy injected); `outside` labels keep a namespace out of it (clients
    outside the mesh), for meshes that inject by default.
    """

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    outside: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class ClusterReader(Protocol):
    """Reads a mesh's resources, and the platform objects its import needs, from a cluster."""

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """Every kind it lists; includes the adapter's own `kinds`."""
        ...

    def read(
        self, kubeconfig: str | None = None, context: str | None = None
    ) -> tuple[list[NativeDocument], list[Diagnostic]]:
        """The documents with their origins, and what could not be read (never raises)."""
        ...


@runtime_checkable
class NativeFiles(Protocol):
    """A mesh whose resources are files of its own formats, not Kubernetes objects
    (Consul's config entries: one entry a file, JSON or HCL, for `consul config write`)."""

    @property
    def formats(self) -> tuple[str, ...]:
        """The formats of `compile --format`; the first is the default."""
        ...

    def render(self, resources: Sequence[Mapping[str, Any]], fmt: str) -> list[tuple[str, str]]:
        """(file name, text) per resource, the names sorting in apply order."""
        ...

    def read(self, paths: Sequence[str]) -> tuple[list[NativeDocument], list[Diagnostic]]:
        """The documents of files in these formats (and YAML/JSON), and what could not
        be read (never raises)."""
        ...


@runtime_checkable
class AgentReader(Protocol):
    """Reads what a running control plane holds through its own API, for a mesh that
    may run without Kubernetes (Consul's agent)."""

    @property
    def option(self) -> str:
        """The command-line option that gives its address, e.g. `--consul-addr`."""
        ...

    def read(self, address: str) -> tuple[list[NativeDocument], list[Diagnostic]]:
        """The documents with their origins, and what could not be read (never raises)."""
        ...


@runtime_checkable
class Adapter(Protocol):
    """Everything a target provides; `tests/adapters/test_contract.py` holds every
    registered adapter to it (`docs/adapters.md` says how to write one)."""

    # Read-only members: an adapter declares them as plain class attributes.
    @property
    def name(self) -> str:
        """The target's name (`--target`, `--from`)."""
        ...

    @property
    def description(self) -> str: ...

    @property
    def mesh_version(self) -> str:
        """The release of the mesh whose resources and behaviour it follows, e.g. "1.30"."""
        ...

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The native kinds it compiles to and imports, in apply order (`apply --prune`
        lists these)."""
        ...

    @property
    def features(self) -> frozenset[Feature]:
        """The features its model answers for ..."""
        ...

    @property
    def unsupported_features(self) -> Mapping[Feature, str]:
        """... and every other feature of the vocabulary, with why the mesh cannot have it."""
        ...

    @property
    def codes(self) -> CodeBlock:
        """The diagnostic codes it owns; it emits no other, and loading the adapter
        registers them all (see `meshspec.codes`)."""
        ...

    @property
    def injection(self) -> Injection:
        """How workloads join the mesh."""
        ...

    @property
    def cluster(self) -> ClusterReader | None:
        """How to read its resources from a live cluster; None when it cannot."""
        ...

    @property
    def forms(self) -> tuple[str, ...]:
        """Other forms its compile can write the same resources in (`compile -o FORM`,
        `CompileOptions.form`), e.g. App Mesh's "cloudformation"; usually none."""
        ...

    @property
    def files(self) -> NativeFiles | None:
        """Its own file formats, when its resources are not Kubernetes objects; else None."""
        ...

    @property
    def agent(self) -> AgentReader | None:
        """How to read a running control plane by its address; None when it cannot."""
        ...

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        """Native resources in `kinds` order; diagnostics through `options.settle`."""
        ...

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult: ...

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel: ...

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> Mapping[str, str]:
        """Native names the model reports for routes and authorization rules -> the neutral
        names they hold (an empty neutral name: no neutral rule, a default decided)."""
        ...

    def known_differences(
        self, diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
    ) -> frozenset[str] | None:
        """The `Verdict` fields in which its model may answer `request` differently from
        the spec, as its compile's `diagnostics` announced (empty: none; None: any).
        The fuzzer skips those fields instead of reporting them."""
        ...

"""The vpc-lattice target: Amazon VPC Lattice through the AWS Gateway API controller
(v2.1.3), where AWS points App Mesh users on EKS. Each service port is a VPC Lattice
service (an HTTPRoute on a Gateway of class `amazon-vpc-lattice`, the service network);
authorization by principal is an IAMAuthPolicy, gRPC ports a TargetGroupPolicy.
Lattice has no mutual TLS between workloads, no retries, no per-route timeouts and no
outlier detection: each is a diagnostic, the security ones errors. Compile only: the
target has no importer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.vpc_lattice import codes
from meshspec.adapter import (
    Adapter,
    CompileOptions,
    CompileResult,
    ImportResult,
    Injection,
    Kind,
    MeshModel,
    NativeDocument,
    Topology,
)
from meshspec.diagnostics import Diagnostic
from meshspec.features import ALL_FEATURES
from meshspec.features import Feature as F
from meshspec.gcpause import cyclic_gc_paused
from meshspec.semantics import Request
from meshspec.spec import Spec

_POLICY = "application-networking.k8s.aws/v1alpha1"
#: Per-version Services, the service network, the routes, then the policies naming them.
KINDS = (
    Kind("v1", "Service"),
    Kind("gateway.networking.k8s.io/v1", "Gateway"),
    Kind("gateway.networking.k8s.io/v1", "HTTPRoute"),
    Kind(_POLICY, "TargetGroupPolicy"),
    Kind(_POLICY, "IAMAuthPolicy"),
)

FEATURES = frozenset(
    {
        F.ROUTING_PATH_EXACT,
        F.ROUTING_PATH_PREFIX,
        F.ROUTING_METHOD,
        F.ROUTING_NO_MATCH_404,
        F.SPLIT_WEIGHTS,
        F.SPLIT_VERSIONS,
        F.AUTHZ_ALLOW,
        F.AUTHZ_DENY,
        F.AUTHZ_DEFAULT_DENY,
    }
)
_PATHS = "neither the controller nor VPC Lattice documents path normalisation"
_NO_MTLS = "VPC Lattice has no mutual TLS between workloads (TLS to the service, SigV4 auth)"
UNSUPPORTED_FEATURES: Mapping[F, str] = {
    **{f: _PATHS for f in ALL_FEATURES - FEATURES if str(f).startswith("paths.")},
    F.ROUTING_PATH_REGEX: "VPC Lattice path matches are exact or prefix only",
    F.ROUTING_HEADERS: "exact header matches only, and their values compare case-insensitively",
    F.ROUTING_QUERY: "VPC Lattice has no query parameter match",
    F.ROUTING_NORMALIZED_PATH: _PATHS,
    F.TIMEOUTS_REQUEST: "the controller does not read HTTPRoute timeouts; Lattice has none",
    F.RETRIES: "VPC Lattice has no retry setting",
    F.RETRIES_PER_TRY_TIMEOUT: "VPC Lattice has no retry setting",
    F.RETRIES_STATUS_CODES: "VPC Lattice has no retry setting",
    F.MTLS_STRICT: _NO_MTLS,
    F.MTLS_PERMISSIVE: _NO_MTLS,
    F.MTLS_PORT: _NO_MTLS,
    F.MTLS_DISABLE: "VPC Lattice has no mTLS modes: traffic is HTTP to the service network",
    F.AUTHZ_L7: "IAM auth policies are written for principals only",
    F.AUTHZ_DENY_HEADER_ELEMENTS: "IAM auth policies are written for principals only",
    F.RESILIENCE_OUTLIER: "VPC Lattice has active health checks, not outlier detection",
    F.RESILIENCE_CONNECTION_LIMITS: "VPC Lattice has no connection limits",
    F.RESILIENCE_PER_VERSION: "VPC Lattice has no outlier detection or connection limits",
    F.HEADERS_REQUEST_EDITS: "the controller writes no HTTPRoute filters to VPC Lattice",
    F.HEADERS_WHITESPACE: "VPC Lattice does not document how header values are read",
    F.HEADERS_REPEATED: "VPC Lattice does not document how repeated header lines are matched",
    F.HOSTS_NORMALIZATION: "clients address the VPC Lattice service's own domain name",
}


class VpcLatticeAdapter:
    name = "vpc-lattice"
    description = "Amazon VPC Lattice (AWS Gateway API controller 2.1.3: HTTPRoute, IAMAuthPolicy)"
    mesh_version = "2.1.3"
    kinds = KINDS
    features = FEATURES
    unsupported_features = UNSUPPORTED_FEATURES
    codes = codes.BLOCK
    #: no sidecar: a namespace joins by its routes; the controller's own label is for
    #: its webhook (pod readiness gate), which is what this names
    injection = Injection(
        labels={"application-networking.k8s.aws/pod-readiness-gate-inject": "enabled"}
    )
    cluster = None
    forms: tuple[str, ...] = ()
    files = None
    agent = None
    #: compile only: `import --from vpc-lattice` is refused with MS5501
    imports = False
    #: every spec loses its mTLS here (MS5001): the conformance column accepts that loss,
    #: says so, and holds the model to no mTLS field (no mTLS feature is claimed)
    conformance_allow_lossy = frozenset({"mtls"})

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        from adapters.vpc_lattice.compiler import compile_vpc_lattice

        # collections walked all the compile had built, more often the larger the
        # mesh; the IAM policies' JSON leaves cycles: collected once at the end
        with cyclic_gc_paused(collect=True):  # see meshspec.gcpause
            resources, diagnostics = compile_vpc_lattice(spec)
        if options.workloads:
            from adapters.kit.platform import with_platform

            resources = with_platform(spec, resources, {})
        return CompileResult(resources, options.settle(diagnostics))

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        return ImportResult(
            None,
            [
                codes.NO_IMPORTER(
                    "vpc-lattice is a compile target only: its resources cannot be imported",
                    target=self.name,
                    hint="import from the source mesh and compile for vpc-lattice",
                )
            ],
        )

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        from adapters.vpc_lattice.model import LatticeModel

        return LatticeModel(resources, topology)

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        from adapters.vpc_lattice.model import neutral_names

        return neutral_names(resources)

    def known_differences(
        self, diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
    ) -> frozenset[str] | None:
        from adapters.vpc_lattice.differences import known_differences

        return known_differences(diagnostics, spec, request)


adapter: Adapter = VpcLatticeAdapter()

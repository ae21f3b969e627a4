"""The gateway-api target: the portable GAMMA subset (Gateway API for service mesh) that
every mesh implementing it reads: HTTPRoutes with Service parents, per-version
Services, weighted backendRefs and request timeouts, nothing newer than Gateway API
1.2.1's standard channel. mTLS, authorization, retries (experimental) and breakers
have no field there: each is a diagnostic. The model is Gateway API's own
specification; the `linkerd` model shows where one mesh's proxy differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.gateway_api import codes
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

#: Per-version Services first: the routes' backendRefs name them.
KINDS = (Kind("v1", "Service"), Kind("gateway.networking.k8s.io/v1", "HTTPRoute"))

FEATURES = frozenset(
    {
        F.ROUTING_PATH_EXACT,
        F.ROUTING_PATH_PREFIX,
        F.ROUTING_HEADERS,
        F.ROUTING_QUERY,
        F.ROUTING_METHOD,
        F.ROUTING_NO_MATCH_404,
        F.SPLIT_WEIGHTS,
        F.SPLIT_VERSIONS,
        F.TIMEOUTS_REQUEST,
        F.HEADERS_REQUEST_EDITS,
    }
)
_NO_FIELD = "Gateway API has no standard field for it; the mesh's own resources decide"
_PATHS = "Gateway API defines no path normalisation for mesh traffic: each mesh decides"
UNSUPPORTED_FEATURES: Mapping[F, str] = {
    **{f: _NO_FIELD for f in sorted(ALL_FEATURES - FEATURES)},
    F.ROUTING_PATH_REGEX: "regex precedence and dialect are implementation-specific "
    "(httproute_types.go)",
    F.RETRIES: "HTTPRoute retry is in the experimental channel only (GEP-1731)",
    F.RETRIES_PER_TRY_TIMEOUT: "HTTPRoute retry is in the experimental channel only",
    F.RETRIES_STATUS_CODES: "HTTPRoute retry is in the experimental channel only",
    F.HEADERS_WHITESPACE: "Gateway API does not say how header values are read",
    F.HEADERS_REPEATED: "Gateway API does not say how repeated header lines are matched",
    F.HOSTS_NORMALIZATION: "Gateway API for mesh binds to the Service, not to host names",
    F.ROUTING_NORMALIZED_PATH: _PATHS,
    **{f: _PATHS for f in ALL_FEATURES - FEATURES if str(f).startswith("paths.")},
}


class GatewayApiCluster:
    """The HTTPRoutes of a live cluster and the platform objects they name."""

    @property
    def kinds(self) -> tuple[Kind, ...]:
        from adapters.gateway_api.cluster import CLUSTER_KINDS

        return CLUSTER_KINDS

    def read(
        self, kubeconfig: str | None = None, context: str | None = None
    ) -> tuple[list[NativeDocument], list[Diagnostic]]:
        from adapters.gateway_api.cluster import read_cluster

        return read_cluster(kubeconfig, context)


class GatewayApiAdapter:
    name = "gateway-api"
    description = "Gateway API for mesh (GAMMA): HTTPRoute v1 with Service parents, 1.2.1 standard"
    mesh_version = "1.2.1"
    kinds = KINDS
    features = FEATURES
    unsupported_features = UNSUPPORTED_FEATURES
    codes = codes.BLOCK
    #: the implementation's own injection; this is Linkerd's and Istio's namespace switch
    injection = Injection(
        annotations={"linkerd.io/inject": "enabled"}, labels={"istio-injection": "enabled"}
    )
    cluster = GatewayApiCluster()
    #: Kubernetes objects, read from a cluster
    forms: tuple[str, ...] = ()
    files = None
    agent = None

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        from adapters.gateway_api.compiler import compile_gateway_api

        with cyclic_gc_paused():  # acyclic output and findings: see meshspec.gcpause
            resources, diagnostics = compile_gateway_api(spec)
        if options.workloads:
            from adapters.kit.platform import with_platform

            resources = with_platform(spec, resources, {})
        return CompileResult(resources, options.settle(diagnostics))

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        from adapters.gateway_api.importer import import_gateway_api

        return import_gateway_api(documents)

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        from adapters.gateway_api.model import GatewayApiModel

        return GatewayApiModel(resources, topology)

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """`namespace/route#rule` -> the neutral route the rule holds."""
        from adapters._gamma_model import neutral_names

        return neutral_names(resources)

    def known_differences(
        self, diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
    ) -> frozenset[str]:
        """None announced: its compile's findings and its model are checked as they are."""
        return frozenset()


adapter: Adapter = GatewayApiAdapter()

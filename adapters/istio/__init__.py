"""The Istio target: compile to VirtualService, DestinationRule, PeerAuthentication and
AuthorizationPolicy; import them back; model Istio's documented behaviour over them.

This module is the adapter's contract (`meshspec.adapter.Adapter`): its kinds,
features, code block and how workloads join the mesh. The importer, model and
cluster reader are imported only when used (by module name, so this package
type-checks and compiles before they exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any, cast

# Loading the adapter registers its whole code block (compiler, importer and model).
from adapters.istio import codes as _compiler_codes  # noqa: F401
from adapters.istio import import_codes as _import_codes  # noqa: F401
from adapters.istio.resources import KINDS
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
from meshspec.codes import CodeBlock
from meshspec.diagnostics import Diagnostic
from meshspec.features import Feature as F
from meshspec.semantics import Request
from meshspec.spec import Spec

FEATURES = frozenset(
    {
        F.ROUTING_PATH_EXACT,
        F.ROUTING_PATH_PREFIX,
        F.ROUTING_PATH_REGEX,
        F.ROUTING_HEADERS,
        F.ROUTING_QUERY,
        F.ROUTING_METHOD,
        F.ROUTING_NO_MATCH_404,
        F.ROUTING_NORMALIZED_PATH,
        F.SPLIT_WEIGHTS,
        F.SPLIT_VERSIONS,
        F.TIMEOUTS_REQUEST,
        F.RETRIES,
        F.RETRIES_PER_TRY_TIMEOUT,
        F.RETRIES_STATUS_CODES,
        F.MTLS_STRICT,
        F.MTLS_PERMISSIVE,
        F.MTLS_DISABLE,
        F.MTLS_PORT,
        F.AUTHZ_ALLOW,
        F.AUTHZ_DENY,
        F.AUTHZ_DEFAULT_DENY,
        F.AUTHZ_L7,
        F.RESILIENCE_OUTLIER,
        F.RESILIENCE_CONNECTION_LIMITS,
        F.RESILIENCE_PER_VERSION,
        F.HEADERS_REQUEST_EDITS,
        F.HEADERS_WHITESPACE,
        F.HEADERS_REPEATED,
        F.PATHS_DOT_SEGMENTS,
        F.PATHS_DECODE_UNRESERVED,
        F.PATHS_BACKSLASH,
        F.PATHS_MERGE_SLASHES,
        F.PATHS_REJECT_RELATIVE,
        F.PATHS_REJECT_NUL,
        F.HOSTS_NORMALIZATION,
    }
)

#: What Istio cannot do as the spec says, with the reason (istio.io
#: docs/reference/config/security/normalization; Envoy HCM proto comments).
UNSUPPORTED_FEATURES: Mapping[F, str] = {
    F.PATHS_REJECT_ENCODED_SLASH: "Istio forwards %2F and %5C encoded (BASE, MERGE_SLASHES) or "
    "decodes them into / and \\ (DECODE_AND_MERGE_SLASHES); no meshConfig setting makes Envoy "
    "reject them with 400",
    F.PATHS_REJECT_FRAGMENT: "Istio's bootstrap turns Envoy's fragment rejection off "
    "(http_reject_path_with_fragment: false) and strips '#...' instead of answering 400",
    F.AUTHZ_DENY_HEADER_ELEMENTS: "Envoy's RBAC matches a header condition against each "
    "line of the header, and Istio values are exact, prefix, suffix or presence only, so a "
    "DENY on '1' is compiled as '1', '1,*', '*,1', '*, 1' and still lets the line '0,1,2' "
    "through (MS1013)",
    F.PATHS_REJECT_MALFORMED_ESCAPE: "Envoy's path normalisation keeps a malformed escape "
    "such as %zz as written and forwards the request; nothing answers 400",
}

#: The mesh-wide setting the compiled output requires (MS1001); the model runs with it.
REQUIRED_PATH_NORMALIZATION = "MERGE_SLASHES"


class IstioCluster:
    """The Istio resources of a live cluster, for `meshspec import --live` (the
    Kubernetes client is imported on first use)."""

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(Kind(*k) for k in import_module("adapters.istio.cluster").KINDS)

    def read(
        self, kubeconfig: str | None = None, context: str | None = None
    ) -> tuple[list[NativeDocument], list[Diagnostic]]:
        read_cluster = import_module("adapters.istio.cluster").read_cluster
        return cast(
            tuple[list[NativeDocument], list[Diagnostic]], read_cluster(kubeconfig, context)
        )


class IstioAdapter:
    name = "istio"
    description = "Istio (networking.istio.io/v1, security.istio.io/v1)"
    mesh_version = "1.30"
    kinds = KINDS
    features = FEATURES
    unsupported_features = UNSUPPORTED_FEATURES
    #: compiler MS1000-MS1499 (`codes`), importer, model and cluster reader MS1500-MS1999
    #: (`import_codes`)
    codes = CodeBlock(1000, 1999)
    #: istio.io docs/setup/additional-setup/sidecar-injection: the namespace label
    injection = Injection(
        labels={"istio-injection": "enabled"}, outside={"istio-injection": "disabled"}
    )
    cluster = IstioCluster()
    #: its resources are Kubernetes objects, read from a cluster, not from an agent
    forms: tuple[str, ...] = ()
    files = None
    agent = None

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        from adapters.istio.compiler import compile_istio

        result = compile_istio(spec, options)
        result.diagnostics = options.settle(result.diagnostics)
        if options.workloads:
            from adapters.istio.workloads import workload_objects

            result.resources = [*workload_objects(spec), *result.resources]
        return result

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        import_istio = import_module("adapters.istio.importer").import_istio
        return cast(ImportResult, import_istio(documents))

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        """Istio as the compiled output asks to be installed: with MERGE_SLASHES (MS1001)."""
        istio_model = import_module("adapters.istio.model").IstioModel
        return cast(MeshModel, istio_model(resources, topology, REQUIRED_PATH_NORMALIZATION))

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Native route and rule names the model reports -> the neutral names they hold."""
        from adapters.istio._names import neutral_names

        return neutral_names(resources)

    def known_differences(
        self, diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
    ) -> frozenset[str]:
        """None announced: its compile's findings and its model are checked as they are."""
        return frozenset()


adapter: Adapter = IstioAdapter()

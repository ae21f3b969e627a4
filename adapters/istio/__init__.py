"""The Istio target: compile to VirtualService, DestinationRule, PeerAuthentication and
AuthorizationPolicy; import them back; model Istio's documented behaviour over them.

The importer, model and cluster reader are imported only when used (by module
name, so this package type-checks and compiles before they exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any, cast

from meshspec.adapter import (
    CompileOptions,
    CompileResult,
    ImportResult,
    MeshModel,
    NativeDocument,
    Topology,
)
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Spec

FEATURES = frozenset(
    {
        "routing.path.exact",
        "routing.path.prefix",
        "routing.path.regex",
        "routing.headers",
        "routing.query",
        "routing.method",
        "split.weights",
        "split.versions",
        "timeouts.request",
        "retries",
        "retries.per_try_timeout",
        "retries.status_codes",
        "mtls.strict",
        "mtls.permissive",
        "mtls.disable",
        "mtls.port",
        "authz.allow",
        "authz.deny",
        "authz.default_deny",
        "authz.l7",
        "resilience.outlier",
        "resilience.connection_limits",
        "headers.request_edits",
        "headers.whitespace",
        "headers.repeated",
        "paths.dot_segments",
        "paths.decode_unreserved",
        "paths.backslash",
        "paths.merge_slashes",
        "paths.reject_relative",
        "paths.reject_nul",
        "hosts.normalization",
    }
)

#: What Istio cannot do as the spec says, with the reason (istio.io
#: docs/reference/config/security/normalization; Envoy HCM proto comments).
UNSUPPORTED_FEATURES: Mapping[str, str] = {
    "paths.reject_encoded_slash": "Istio forwards %2F and %5C encoded (BASE, MERGE_SLASHES) or "
    "decodes them into / and \\ (DECODE_AND_MERGE_SLASHES); no meshConfig setting makes Envoy "
    "reject them with 400",
    "paths.reject_fragment": "Istio's bootstrap turns Envoy's fragment rejection off "
    "(http_reject_path_with_fragment: false) and strips '#...' instead of answering 400",
    "authz.deny_header_elements": "Envoy's RBAC matches a header condition against the "
    "header's lines joined with ',' only (HeaderUtility::getAllOfHeaderAsString), so a DENY "
    "on exact '1' lets 'x: 1' sent twice ('1,1') or '0, 1' through",
    "paths.reject_malformed_escape": "Envoy's path normalisation keeps a malformed escape such "
    "as %zz as written and forwards the request; nothing answers 400",
}

#: The mesh-wide setting the compiled output requires (MS1001); the model runs with it.
REQUIRED_PATH_NORMALIZATION = "MERGE_SLASHES"


class IstioAdapter:
    name = "istio"
    description = "Istio (networking.istio.io/v1, security.istio.io/v1)"
    features: frozenset[str] = FEATURES
    unsupported_features: Mapping[str, str] = UNSUPPORTED_FEATURES

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        from adapters.istio.compiler import compile_istio

        result = compile_istio(spec, options)
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

    def read_cluster(
        self, kubeconfig: str | None = None, context: str | None = None
    ) -> tuple[list[NativeDocument], list[Diagnostic]]:
        read_cluster = import_module("adapters.istio.cluster").read_cluster
        return cast(
            tuple[list[NativeDocument], list[Diagnostic]], read_cluster(kubeconfig, context)
        )


adapter = IstioAdapter()

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
        "paths.normalization",
    }
)


class IstioAdapter:
    name = "istio"
    description = "Istio (networking.istio.io/v1, security.istio.io/v1)"
    features: frozenset[str] = FEATURES

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        from adapters.istio.compiler import compile_istio

        return compile_istio(spec, options)

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        import_istio = import_module("adapters.istio.importer").import_istio
        return cast(ImportResult, import_istio(documents))

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        istio_model = import_module("adapters.istio.model").IstioModel
        return cast(MeshModel, istio_model(resources, topology))

    def read_cluster(
        self, kubeconfig: str | None = None, context: str | None = None
    ) -> tuple[list[NativeDocument], list[Diagnostic]]:
        read_cluster = import_module("adapters.istio.cluster").read_cluster
        return cast(
            tuple[list[NativeDocument], list[Diagnostic]], read_cluster(kubeconfig, context)
        )


adapter = IstioAdapter()

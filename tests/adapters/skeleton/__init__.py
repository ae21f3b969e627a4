"""Ferry, a fake mesh small enough to read in one sitting: the worked example of
`docs/adapters.md` and a fixture of the adapter contract test.

Ferry (documented in README.md next to this file) routes by path only, first
match wins, and always requires mTLS. This module is the whole contract: what
Ferry is called, which kinds it has, what it can and cannot do, its codes and
how workloads join it. The compiler, importer and model are one module each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
from meshspec.semantics import Request
from meshspec.spec import Spec
from tests.adapters.skeleton import codes

ROUTE = Kind("ferry.example/v1", "FerryRoute")

FEATURES = frozenset(
    {
        F.ROUTING_PATH_EXACT,
        F.ROUTING_PATH_PREFIX,
        F.ROUTING_NO_MATCH_404,
        F.SPLIT_WEIGHTS,
        F.SPLIT_VERSIONS,
        F.MTLS_STRICT,
    }
)
_NO_SETTING = "Ferry has no setting for it (README: what Ferry cannot do)"
UNSUPPORTED_FEATURES: Mapping[F, str] = {
    **{f: _NO_SETTING for f in sorted(ALL_FEATURES - FEATURES)},
    F.ROUTING_PATH_REGEX: "Ferry matches exact paths and path prefixes only",
    F.MTLS_PERMISSIVE: "Ferry always requires mTLS",
    F.MTLS_DISABLE: "Ferry always requires mTLS",
    F.AUTHZ_ALLOW: "Ferry has no authorization",
    F.AUTHZ_DENY: "Ferry has no authorization",
}


class FerryAdapter:
    name = "ferry"
    description = "Ferry (ferry.example/v1), a fake mesh for examples and tests"
    mesh_version = "1.0"
    kinds = (ROUTE,)
    features = FEATURES
    unsupported_features = UNSUPPORTED_FEATURES
    codes = codes.BLOCK
    injection = Injection(annotations={"ferry.example/inject": "true"})
    cluster = None
    forms: tuple[str, ...] = ()
    files = None
    agent = None

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        from tests.adapters.skeleton.compiler import compile_ferry

        resources, diagnostics = compile_ferry(spec)
        return CompileResult(resources, options.settle(diagnostics))

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        from tests.adapters.skeleton.importer import import_ferry

        return import_ferry(documents)

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        from tests.adapters.skeleton.model import FerryModel

        return FerryModel(resources, topology)

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """A rule `<route>/<match index>` holds the neutral route `<route>`."""
        return {
            str(rule["name"]): str(rule["name"]).split("/")[0]
            for res in resources
            for rule in res["spec"]["rules"]
        }

    def known_differences(
        self, diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
    ) -> frozenset[str]:
        """None announced: its compile's findings and its model are checked as they are."""
        return frozenset()


adapter: Adapter = FerryAdapter()

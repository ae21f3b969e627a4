"""The Linkerd target (2.20, stable): compile to GAMMA HTTPRoutes, per-version Services,
Servers, authentications and AuthorizationPolicies, retry and failure-accrual
annotations; import them (and legacy ServiceProfiles, ServerAuthorizations and
`policy.linkerd.io` HTTPRoutes) back; model what Linkerd's proxy and policy
controller do with them. The compiler, importer and model are imported only when used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.linkerd import codes
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

#: Apply order: the Services routes name, the Servers policies target, authentications
#: before the policies that require them, routes before the policies on them.
KINDS = (
    Kind("v1", "Service"),
    Kind("policy.linkerd.io/v1beta3", "Server"),
    Kind("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication"),
    Kind("policy.linkerd.io/v1alpha1", "NetworkAuthentication"),
    Kind("gateway.networking.k8s.io/v1", "HTTPRoute"),
    Kind("policy.linkerd.io/v1beta3", "HTTPRoute"),
    Kind("policy.linkerd.io/v1alpha1", "AuthorizationPolicy"),
)

FEATURES = frozenset(
    {
        F.ROUTING_PATH_EXACT,
        F.ROUTING_PATH_PREFIX,
        F.ROUTING_PATH_REGEX,
        F.ROUTING_HEADERS,
        F.ROUTING_QUERY,
        F.ROUTING_METHOD,
        F.ROUTING_NO_MATCH_404,
        F.SPLIT_WEIGHTS,
        F.SPLIT_VERSIONS,
        F.TIMEOUTS_REQUEST,
        F.AUTHZ_ALLOW,
        F.AUTHZ_DEFAULT_DENY,
        F.AUTHZ_L7,
        F.HEADERS_REQUEST_EDITS,
        F.HEADERS_WHITESPACE,
    }
)
_PATHS = (
    "Linkerd's proxy matches the request path as sent: it does not normalise it "
    "(linkerd2-proxy linkerd/http/route/src/http/match/path.rs)"
)
_RETRIES = (
    "Linkerd retries the statuses of retry.linkerd.io/http, refused streams, unavailable "
    "backends and per-try timeouts; connect-failure and reset cannot be asked for "
    "(linkerd2-proxy outbound http/retry.rs retryable_error)"
)
UNSUPPORTED_FEATURES: Mapping[F, str] = {
    **{f: _PATHS for f in ALL_FEATURES - FEATURES if str(f).startswith("paths.")},
    F.RETRIES: _RETRIES,
    F.RETRIES_PER_TRY_TIMEOUT: _RETRIES,
    F.RETRIES_STATUS_CODES: _RETRIES,
    F.MTLS_PERMISSIVE: "Linkerd has no mTLS mode: meshed clients always use mTLS and "
    "plaintext clients are admitted or not by authorization (linkerd.io features/"
    "automatic-mtls), so the model names no mode",
    F.MTLS_STRICT: "Linkerd requires identities through authorization: a plaintext HTTP "
    "request gets 403 from the proxy instead of a refused connection (MS2007)",
    F.MTLS_DISABLE: "Linkerd cannot turn mTLS off between meshed pods; only skip-ports "
    "bypass the proxy, and authorization with it (MS2006)",
    F.MTLS_PORT: "per-port modes other than PERMISSIVE are STRICT or DISABLE, which Linkerd "
    "expresses differently (MS2006, MS2007)",
    F.AUTHZ_DENY: "Linkerd's policy is allow-only: a DENY is compiled as the absence of an "
    "authorization, so no rule is named when it denies",
    F.AUTHZ_DENY_HEADER_ELEMENTS: "Linkerd matches each header line on its own, never the "
    "elements of a comma-separated value",
    F.RESILIENCE_OUTLIER: "Linkerd's failure accrual has no interval and no ejection cap, "
    "and backs off exponentially from min-penalty (linkerd.io reference/circuit-breaking)",
    F.RESILIENCE_CONNECTION_LIMITS: "Linkerd has no connection or pending-request limits",
    F.RESILIENCE_PER_VERSION: "failure accrual is per backend Service (so per version), but "
    "it has no interval and no ejection cap (linkerd.io reference/circuit-breaking)",
    F.ROUTING_NORMALIZED_PATH: _PATHS,
    F.HEADERS_REPEATED: "Linkerd's proxy matches each line of a repeated header on its own "
    "(linkerd2-proxy http/match/header.rs), not their joined value",
    F.HOSTS_NORMALIZATION: "Linkerd routes by the Service a connection is addressed to, not "
    "by the Host header",
}


class LinkerdCluster:
    """Linkerd's resources of a live cluster, for `meshspec import --live`."""

    @property
    def kinds(self) -> tuple[Kind, ...]:
        from adapters.linkerd.cluster import CLUSTER_KINDS

        return CLUSTER_KINDS

    def read(
        self, kubeconfig: str | None = None, context: str | None = None
    ) -> tuple[list[NativeDocument], list[Diagnostic]]:
        from adapters.linkerd.cluster import read_cluster

        return read_cluster(kubeconfig, context)


class LinkerdAdapter:
    name = "linkerd"
    description = "Linkerd 2.20 (GAMMA HTTPRoute v1, policy.linkerd.io, annotations)"
    mesh_version = "2.20"
    kinds = KINDS
    features = FEATURES
    unsupported_features = UNSUPPORTED_FEATURES
    #: compiler MS2000-MS2499, importer and model MS2500-MS2999
    codes = codes.BLOCK
    #: linkerd.io features/proxy-injection: the namespace (or workload) annotation
    injection = Injection(annotations={"linkerd.io/inject": "enabled"}, outside={})
    cluster = LinkerdCluster()
    #: Kubernetes objects, read from a cluster
    forms: tuple[str, ...] = ()
    files = None
    agent = None

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        from adapters.linkerd.compiler import compile_linkerd

        resources, diagnostics = compile_linkerd(spec)
        if options.workloads:
            from adapters.kit.platform import with_platform

            resources = with_platform(spec, resources, {"linkerd.io/inject": "enabled"})
        return CompileResult(resources, options.settle(diagnostics))

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        from adapters.linkerd.importer import import_linkerd

        return import_linkerd(documents)

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        from adapters.linkerd.model import LinkerdModel

        return LinkerdModel(resources, topology)

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Outbound rules `namespace/route#rule` and policies `namespace/policy` -> neutral
        route and rule names."""
        from adapters._gamma_model import neutral_names
        from adapters.linkerd._policy import RULE_ANNOTATION

        out = neutral_names(resources)
        for r in resources:
            if r.get("kind") == "AuthorizationPolicy":
                meta = r.get("metadata") or {}
                notes = meta.get("annotations") or {}
                key = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
                out[key] = str(notes.get(RULE_ANNOTATION, ""))
        return out

    def known_differences(
        self, diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
    ) -> frozenset[str]:
        """None announced: its compile's findings and its model are checked as they are."""
        return frozenset()


adapter: Adapter = LinkerdAdapter()

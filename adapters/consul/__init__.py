"""Consul service mesh: the `consul` target (config entries for `consul config write` and the
HTTP API) and the `consul-k8s` target (the consul-k8s resources that carry the same entries).

Both share one compiler, importer and model (this package) and one code block. The model reads
config entries; the consul-k8s resources are turned into the entries consul-k8s would write
before it reads them. The compiler, importer and model are imported only when used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any

from adapters.consul import codes
from adapters.consul.entries import CONFIG_KINDS, K8S_KINDS
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
from meshspec.features import ALL_FEATURES
from meshspec.features import Feature as F
from meshspec.gcpause import cyclic_gc_paused
from meshspec.spec import Spec

#: The Consul release whose entries and behaviour the adapter follows (the project's real
#: server); `MESHSPEC_CONSUL_VERSION` names the agents' release where it differs, which
#: decides workarounds such as the PathPrefix rewrite of hashicorp/consul#23339.
CONSUL_VERSION = "1.22.5"

FEATURES = frozenset(
    {
        F.ROUTING_PATH_EXACT,
        F.ROUTING_PATH_PREFIX,
        F.ROUTING_PATH_REGEX,
        F.ROUTING_HEADERS,
        F.ROUTING_QUERY,
        F.ROUTING_METHOD,
        F.SPLIT_WEIGHTS,
        F.SPLIT_VERSIONS,
        F.TIMEOUTS_REQUEST,
        F.RETRIES,
        F.RETRIES_STATUS_CODES,
        F.MTLS_STRICT,
        F.AUTHZ_ALLOW,
        F.AUTHZ_DENY,
        F.AUTHZ_DEFAULT_DENY,
        F.AUTHZ_L7,
        F.AUTHZ_DENY_HEADER_ELEMENTS,
        F.RESILIENCE_OUTLIER,
        F.RESILIENCE_CONNECTION_LIMITS,
        F.HEADERS_REQUEST_EDITS,
        F.HEADERS_WHITESPACE,
        F.HEADERS_REPEATED,
        F.PATHS_DOT_SEGMENTS,
        F.PATHS_DECODE_UNRESERVED,
        F.PATHS_BACKSLASH,
        F.PATHS_MERGE_SLASHES,
        F.PATHS_REJECT_RELATIVE,
        F.PATHS_REJECT_NUL,
        F.PATHS_REJECT_ENCODED_SLASH,
        F.PATHS_REJECT_FRAGMENT,
        F.HOSTS_NORMALIZATION,
    }
)
UNSUPPORTED_FEATURES: Mapping[F, str] = {
    F.RETRIES_PER_TRY_TIMEOUT: "Consul's service-router has no per-try timeout, only "
    "RequestTimeout for the whole request",
    F.MTLS_PERMISSIVE: "Consul accepts plaintext (MutualTLSMode permissive) only with "
    "transparent proxy and mesh AllowEnablingPermissiveMutualTLS",
    F.MTLS_DISABLE: "Consul keeps mTLS between sidecars; it cannot be turned off",
    F.MTLS_PORT: "Consul's MutualTLSMode is per service (service-defaults), not per port",
    F.PATHS_REJECT_MALFORMED_ESCAPE: "Envoy's path normalisation keeps a malformed escape "
    "such as %zz and forwards the request",
    F.ROUTING_NO_MATCH_404: "Consul's router sends a request no route matches to the service "
    "itself (the discovery chain's default route); nothing in a service-router answers 404",
    F.ROUTING_NORMALIZED_PATH: "Consul normalises paths only where a request comes in, before "
    "intentions (mesh HTTP.Incoming.RequestNormalization); the caller's sidecar routes on the "
    "path as sent",
    F.RESILIENCE_PER_VERSION: "a caller's UpstreamConfig is keyed by service, not by resolver "
    "subset: every version gets the service's limits and passive health check",
}
assert set(FEATURES) | set(UNSUPPORTED_FEATURES) == ALL_FEATURES

#: consul-k8s: the pod annotation that injects the sidecar
#: (developer.hashicorp.com/consul/docs/k8s/annotations-and-labels), also set per namespace
#: by connectInject.namespaceSelector labels.
_INJECTION = Injection(annotations={"consul.hashicorp.com/connect-inject": "true"})


class ConsulK8sCluster:
    """The consul-k8s resources of a live Kubernetes cluster (`meshspec import --from
    consul-k8s --live`), through the kit's reader."""

    kinds: tuple[Kind, ...] = K8S_KINDS

    def read(
        self, kubeconfig: str | None = None, context: str | None = None
    ) -> tuple[list[NativeDocument], list[Any]]:
        read_cluster = import_module("adapters.kit").read_cluster
        return read_cluster(  # type: ignore[no-any-return]
            kubeconfig, context, self.kinds, target="consul-k8s", unreachable=codes.UNREACHABLE
        )


def _version() -> str:
    return os.environ.get("MESHSPEC_CONSUL_VERSION", CONSUL_VERSION)


class ConsulFiles:
    """Config entries as files, one entry a file: what `consul config write` reads."""

    #: the formats of `meshspec compile --format`
    formats = ("json", "hcl")

    def render(self, resources: Sequence[Mapping[str, Any]], fmt: str) -> list[tuple[str, str]]:
        return import_module("adapters.consul.files").render(resources, fmt)  # type: ignore[no-any-return]

    def read(self, paths: Sequence[str]) -> tuple[list[NativeDocument], list[Any]]:
        """JSON, YAML and HCL files of config entries or consul-k8s resources."""
        return import_module("adapters.consul.files").read_files(paths)  # type: ignore[no-any-return]


class ConsulAgent:
    """A live agent's entries and registrations, through its HTTP API."""

    option = "--consul-addr"

    def read(self, address: str) -> tuple[list[NativeDocument], list[Any]]:
        return import_module("adapters.consul.agent").read_agent(address)  # type: ignore[no-any-return]


class _Consul:
    """What both targets share: features, codes, import and model."""

    cluster: Any = None
    forms: tuple[str, ...] = ()
    files: ConsulFiles | None = None
    agent: ConsulAgent | None = None

    name = "consul"
    mesh_version = CONSUL_VERSION
    features = FEATURES
    unsupported_features = UNSUPPORTED_FEATURES
    codes = codes.BLOCK
    injection = _INJECTION

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        return import_module("adapters.consul.importer").import_consul(documents)  # type: ignore[no-any-return]

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        model = import_module("adapters.consul.model")
        return model.ConsulModel(model.as_entries(resources), topology)  # type: ignore[no-any-return]

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        model = import_module("adapters.consul.model")
        return model.neutral_names(model.as_entries(resources))  # type: ignore[no-any-return]

    def known_differences(
        self, diagnostics: Sequence[Any], spec: Spec, request: Any
    ) -> frozenset[str] | None:
        """The answer's fields that may differ from the spec's for `request`, by the
        compile's findings (None: all of them); see `differences.py`."""
        differences = import_module("adapters.consul.differences")
        return differences.known_differences(diagnostics, spec, request)  # type: ignore[no-any-return]


class ConsulAdapter(_Consul):
    name = "consul"
    description = "Consul service mesh (config entries for consul config write: JSON or HCL)"
    kinds: tuple[Kind, ...] = CONFIG_KINDS
    files = ConsulFiles()
    agent = ConsulAgent()

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        compiler = import_module("adapters.consul.compiler")
        with cyclic_gc_paused():  # plain, acyclic output: see meshspec.gcpause
            resources, diagnostics = compiler.compile_entries(spec, _version(), self.name)
        return CompileResult(resources, options.settle(diagnostics))


class ConsulK8sAdapter(_Consul):
    name = "consul-k8s"
    description = "Consul service mesh on Kubernetes (consul-k8s custom resources)"
    kinds: tuple[Kind, ...] = K8S_KINDS
    cluster = ConsulK8sCluster()

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        compiler = import_module("adapters.consul.compiler")
        with cyclic_gc_paused():  # plain, acyclic output: see meshspec.gcpause
            entries, diagnostics = compiler.compile_entries(spec, _version(), self.name)
            resources = compiler.k8s_resources(entries, spec)
        return CompileResult(resources, options.settle(diagnostics))


adapter: Adapter = ConsulAdapter()
k8s_adapter: Adapter = ConsulK8sAdapter()

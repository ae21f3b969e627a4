"""The AWS App Mesh target, import first: App Mesh reached its end of support on
2026-09-30 and its users move elsewhere. `meshspec import --from appmesh` reads
CloudFormation, Terraform, AWS CLI/API JSON and controller resources into one
typed model (`resources.py`) and maps it to the neutral spec, every difference
reported; `--target appmesh` writes controller resources (and, through
`cloudformation.py`, a CloudFormation template) for a mesh still kept running.

This module is the adapter's contract: kinds, features, codes, injection. The
readers, compiler and model are imported when used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.appmesh import codes
from adapters.appmesh.resources import NEW_ACCOUNT, Settings
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

GROUP_VERSION = "appmesh.k8s.aws/v1beta2"
#: apply order: the mesh, the nodes, the routers (with their routes) that target
#: nodes, then the virtual services that name routers or nodes
KINDS = (
    Kind(GROUP_VERSION, "Mesh"),
    Kind(GROUP_VERSION, "VirtualNode"),
    Kind(GROUP_VERSION, "VirtualRouter"),
    Kind(GROUP_VERSION, "VirtualService"),
)

FEATURES = frozenset(
    {
        F.ROUTING_PATH_EXACT,
        F.ROUTING_PATH_PREFIX,
        F.ROUTING_PATH_REGEX,
        F.ROUTING_HEADERS,
        F.ROUTING_METHOD,
        F.SPLIT_WEIGHTS,
        F.SPLIT_VERSIONS,
        F.TIMEOUTS_REQUEST,
        F.RETRIES,
        F.RETRIES_PER_TRY_TIMEOUT,
        F.MTLS_STRICT,
        F.MTLS_PERMISSIVE,
        F.MTLS_DISABLE,
        F.MTLS_PORT,
        F.PATHS_DOT_SEGMENTS,
        F.PATHS_MERGE_SLASHES,
        F.PATHS_DECODE_UNRESERVED,
        F.PATHS_BACKSLASH,
        F.HEADERS_WHITESPACE,
        F.RESILIENCE_OUTLIER,
    }
)
_NO_AUTHZ = (
    "App Mesh has no request authorization (only listener SAN allow-lists and "
    "declared backends, enforced by the callers' Envoys)"
)
_NOT_MODELLED = "App Mesh's documentation does not say how its Envoy treats this; not modelled"
UNSUPPORTED_FEATURES: Mapping[F, str] = {
    **{f: _NOT_MODELLED for f in sorted(ALL_FEATURES - FEATURES)},
    F.ROUTING_QUERY: "App Mesh matches query parameters by exact value only, and the meaning "
    "of a parameter without a match is not documented",
    F.RETRIES_STATUS_CODES: "App Mesh retries event classes (server-error, gateway-error, "
    "client-error = 409, stream-error), not chosen statuses",
    F.AUTHZ_ALLOW: _NO_AUTHZ,
    F.AUTHZ_DENY: _NO_AUTHZ,
    F.AUTHZ_DEFAULT_DENY: _NO_AUTHZ,
    F.AUTHZ_L7: _NO_AUTHZ,
    F.AUTHZ_DENY_HEADER_ELEMENTS: _NO_AUTHZ,
    F.RESILIENCE_CONNECTION_LIMITS: "App Mesh limits connections on the server side only "
    "(listener connectionPool, towards the local app); client limits are fixed",
    F.HEADERS_REQUEST_EDITS: "App Mesh routes cannot edit request headers",
}


class AppMeshCluster:
    """The App Mesh controller's resources in a live cluster (`import --live`)."""

    kinds = KINDS

    def read(
        self, kubeconfig: str | None = None, context: str | None = None
    ) -> tuple[list[NativeDocument], list[Diagnostic]]:
        from adapters.kit.kube_cluster import read_cluster

        return read_cluster(
            kubeconfig,
            context,
            [(k.api_version, k.kind) for k in KINDS],
            target="appmesh",
            unreachable=codes.CLUSTER_UNREADABLE,
        )


class AppMeshFiles:
    """App Mesh lives in files of many forms (CloudFormation, Terraform, CLI JSON, CRDs);
    it compiles to Kubernetes objects, so it has no `--format` of its own."""

    formats: tuple[str, ...] = ()

    def render(self, resources: Sequence[Mapping[str, Any]], fmt: str) -> list[tuple[str, str]]:
        raise ValueError(f"App Mesh has no file format {fmt!r} of its own")

    def read(self, paths: Sequence[str]) -> tuple[list[NativeDocument], list[Diagnostic]]:
        """Files of any App Mesh form (CloudFormation, Terraform, CLI JSON, CRDs)."""
        from adapters.appmesh.read_files import read_files

        return read_files(paths)


class AppMeshAccount:
    """A live AWS account's App Mesh resources (boto3; `AWS_ENDPOINT_URL` for an
    emulator), found by region."""

    option = "--region"

    def read(self, address: str) -> tuple[list[NativeDocument], list[Diagnostic]]:
        from adapters.appmesh.aws import read_account

        return read_account(address)


#: the account settings the API does not show, offered as options of `import` and `plan`
#: (`meshspec.cli_options.settings_option`) and applied by `AppMeshAdapter.configured`
SETTINGS = ("--appmesh-default-retries",)


class AppMeshAdapter:
    name = "appmesh"
    description = (
        "AWS App Mesh (controller appmesh.k8s.aws/v1beta2; CloudFormation, "
        "Terraform and CLI JSON on import)"
    )
    mesh_version = "controller v1.13.3"
    kinds = KINDS
    features = FEATURES
    unsupported_features = UNSUPPORTED_FEATURES
    codes = codes.BLOCK
    #: aws-app-mesh-controller-for-k8s docs: a namespace labelled for the sidecar injector
    injection = Injection(labels={"appmesh.k8s.aws/sidecarInjectorWebhook": "enabled"})
    cluster = AppMeshCluster()
    #: `compile -o cloudformation`: the same mesh as one CloudFormation template
    forms = ("cloudformation",)
    files = AppMeshFiles()
    agent = AppMeshAccount()
    settings_options = SETTINGS

    def __init__(self, settings: Settings = NEW_ACCOUNT) -> None:
        self.settings = settings

    def configured(self, values: Mapping[str, str]) -> AppMeshAdapter:
        """This adapter with the account settings the options give (`SETTINGS`)."""
        retries = values.get("--appmesh-default-retries")
        if retries is None:
            return self
        return AppMeshAdapter(Settings(default_retries=retries == "on"))

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        # The collector paused: with the loaded spec frozen, every full collection
        # walked all the compile had built so far, and they came more often the
        # larger the mesh (2,000 -> 8,000 services: 2.3 -> 13 s of collections).
        # The output and findings are acyclic: see meshspec.gcpause.
        with cyclic_gc_paused():
            if options.form == "cloudformation":
                from adapters.appmesh.cloudformation import compile_template

                template, found = compile_template(spec)
                return CompileResult([template], options.settle(found))
            from adapters.appmesh.compiler import compile_appmesh

            resources, diagnostics = compile_appmesh(spec, options)
            return CompileResult(resources, options.settle(diagnostics))

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        from adapters.appmesh.importer import import_appmesh

        return import_appmesh(documents, self.settings)

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        from adapters.appmesh.model import AppMeshModel

        return AppMeshModel(resources, topology, self.settings)

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """A compiled route `<route>.<match>[.<part>][.<port>]` holds the neutral `<route>`."""
        names: dict[str, str] = {}
        for res in resources:
            if res.get("kind") == "VirtualRouter":
                for route in (res.get("spec") or {}).get("routes") or []:
                    name = str(route.get("name", ""))
                    base = name.split(".")[0]
                    names[name] = "" if base == "all_endpoints" else base
        return names

    def known_differences(
        self, diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
    ) -> frozenset[str]:
        """None announced: a compile that loses something says so with an error."""
        return frozenset()


adapter: Adapter = AppMeshAdapter()

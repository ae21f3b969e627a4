"""The Amazon ECS Service Connect target, where AWS points ECS users of App Mesh
(App Mesh's end of support: 2026-09-30; aws.amazon.com/blogs/containers/
migrating-from-aws-app-mesh-to-amazon-ecs-service-connect).

`--target ecs-service-connect` writes one `aws ecs create-service --cli-input-json`
input a neutral service, its `serviceConnectConfiguration` carrying the ports,
timeouts and TLS; `-o cloudformation` writes the same as `AWS::ECS::Service`
resources. Service Connect's feature set is small, so most of a mesh's policy is
reported as lost (README.md). This module is the contract; the compiler, importer
and model are imported when used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.ecs import codes
from adapters.ecs.names import API, SERVICE, TASK_DEFINITION
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

#: apply order: task definitions (written with --workloads) before the services that run them
KINDS = (Kind(API, TASK_DEFINITION), Kind(API, SERVICE))

FEATURES = frozenset({F.TIMEOUTS_REQUEST, F.MTLS_DISABLE})
_NO_ROUTES = "Service Connect has no routes: every request to an endpoint goes to all tasks"
_NO_AUTHZ = "Service Connect has no authorization (TLS encrypts; it does not check the client)"
_NOT_DOCUMENTED = (
    "Service Connect's documentation does not say how its proxy treats this; not modelled"
)
UNSUPPORTED_FEATURES: Mapping[F, str] = {
    **{f: _NOT_DOCUMENTED for f in sorted(ALL_FEATURES - FEATURES)},
    F.ROUTING_PATH_EXACT: _NO_ROUTES,
    F.ROUTING_PATH_PREFIX: _NO_ROUTES,
    F.ROUTING_PATH_REGEX: _NO_ROUTES,
    F.ROUTING_HEADERS: _NO_ROUTES,
    F.ROUTING_QUERY: _NO_ROUTES,
    F.ROUTING_METHOD: _NO_ROUTES,
    F.ROUTING_NO_MATCH_404: _NO_ROUTES,
    F.ROUTING_NORMALIZED_PATH: _NO_ROUTES,
    F.SPLIT_WEIGHTS: "Service Connect sends round robin to all tasks of a service; no weights",
    F.SPLIT_VERSIONS: "Service Connect has no versions: one endpoint is one ECS service",
    F.RETRIES: "Service Connect retries by its proxy's own policy, which has no settings",
    F.RETRIES_PER_TRY_TIMEOUT: "Service Connect has no retry settings",
    F.RETRIES_STATUS_CODES: "Service Connect has no retry settings",
    F.MTLS_STRICT: "Service Connect TLS is one-way: the client's certificate is not checked",
    F.MTLS_PERMISSIVE: "Service Connect TLS is one-way: the client's certificate is not checked",
    F.MTLS_PORT: "Service Connect TLS is one-way; a port's mode can only be no TLS",
    F.AUTHZ_ALLOW: _NO_AUTHZ,
    F.AUTHZ_DENY: _NO_AUTHZ,
    F.AUTHZ_DEFAULT_DENY: _NO_AUTHZ,
    F.AUTHZ_L7: _NO_AUTHZ,
    F.AUTHZ_DENY_HEADER_ELEMENTS: _NO_AUTHZ,
    F.RESILIENCE_OUTLIER: "Service Connect's outlier detection is built in, without settings",
    F.RESILIENCE_CONNECTION_LIMITS: "Service Connect has no connection limits",
    F.RESILIENCE_PER_VERSION: "Service Connect has no versions and no resilience settings",
    F.HEADERS_REQUEST_EDITS: "Service Connect cannot edit request headers",
}


class ServiceConnectFiles:
    """ECS API inputs and outputs as JSON files: what `--cli-input-json` reads and
    `describe-services` writes; compiled, one file a service."""

    formats = ("json",)

    def render(self, resources: Sequence[Mapping[str, Any]], fmt: str) -> list[tuple[str, str]]:
        from adapters.ecs.files import render

        return render(resources, fmt)

    def read(self, paths: Sequence[str]) -> tuple[list[NativeDocument], list[Diagnostic]]:
        from adapters.ecs.files import read_files

        return read_files(paths)


class ServiceConnectAdapter:
    name = "ecs-service-connect"
    description = (
        "Amazon ECS Service Connect (serviceConnectConfiguration of ECS services: "
        "create-service JSON, or CloudFormation)"
    )
    mesh_version = "ECS API 2014-11-13"
    kinds = KINDS
    features = FEATURES
    unsupported_features = UNSUPPORTED_FEATURES
    codes = codes.BLOCK
    #: an ECS service joins by its own serviceConnectConfiguration, not by a namespace
    #: label; the contract asks every target for a marker, and ECS reads none: this one
    #: only tells meshspec's Kubernetes-side tools the namespace is meant for the mesh
    injection = Injection(annotations={"ecs.amazonaws.com/service-connect": "enabled"})
    cluster = None
    #: `compile -o cloudformation`: the same services as AWS::ECS::Service resources
    forms = ("cloudformation",)
    files = ServiceConnectFiles()
    agent = None

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        from adapters.ecs.compiler import compile_services

        with cyclic_gc_paused():  # acyclic output and findings: see meshspec.gcpause
            resources, found = compile_services(spec, options.workloads)
        if options.form == "cloudformation":
            from adapters.ecs.cloudformation import to_template

            resources = [to_template(resources)]
        return CompileResult(resources, options.settle(found))

    def import_resources(self, documents: Sequence[NativeDocument]) -> ImportResult:
        from adapters.ecs.importer import import_services

        return import_services(documents)

    def model(self, resources: Sequence[Mapping[str, Any]], topology: Topology) -> MeshModel:
        from adapters.ecs.model import ServiceConnectModel

        return ServiceConnectModel(resources, topology)

    def neutral_names(self, resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """The model names a service's only catch-all route by its tag; it is that route."""
        from adapters.ecs.names import ROUTE_TAG

        names: dict[str, str] = {}
        for res in resources:
            for tag in res.get("tags") or []:
                if tag.get("key") == ROUTE_TAG:
                    names[str(tag["value"])] = str(tag["value"])
        return names

    def known_differences(
        self, diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
    ) -> frozenset[str] | None:
        """What the compile's warnings announce: without routes, splits, retries, edits
        or resilience settings, those fields may differ; a merged timeout, the timeout."""
        from adapters.ecs.differences import known_differences

        return known_differences(diagnostics)


adapter: Adapter = ServiceConnectAdapter()

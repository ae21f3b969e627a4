"""Importing GAMMA HTTPRoutes: the round trip through the gateway-api target keeps every
routing decision; what the spec reads differently is reported."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.fuzz import REQUEST_PATHS, scenarios
from meshspec.adapter import CompileOptions, NativeDocument, Verdict
from meshspec.codecs import dump_yaml
from meshspec.diagnostics import Severity
from meshspec.loader import load_texts
from meshspec.registry import get_adapter
from meshspec.semantics import Request, decide
from meshspec.spec import Origin

GATEWAY = get_adapter("gateway-api")
ROUTING = ["outcome", "status", "backends", "timeout", "route"]


def _native(docs: list[dict[str, Any]]) -> list[NativeDocument]:
    return [NativeDocument(d, Origin("<test>", i)) for i, d in enumerate(docs)]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios(), st.sampled_from(REQUEST_PATHS))
def test_compile_then_import_keeps_every_routing_decision(scenario: Any, path: str) -> None:
    docs, request = scenario
    loaded = load_texts([("fuzz.yaml", dump_yaml(docs))])
    if not loaded.ok or loaded.spec is None or request.source is None:
        return
    compiled = GATEWAY.compile(loaded.spec, CompileOptions())
    if any(d.severity is Severity.ERROR or d.code == "MS6001" for d in compiled.diagnostics):
        return  # what the compile said it cannot keep (mTLS, authorization, regex ranking)
    back = GATEWAY.import_resources(_native(compiled.resources))
    assert back.spec is not None
    assert not [d for d in back.diagnostics if d.severity is Severity.ERROR]
    fields = (
        ROUTING
        if not any(r.retries for s in loaded.spec for r in s.spec.routes)
        else [f for f in ROUTING if f != "retries"]
    )
    for req in (
        request,
        Request(
            request.destination, path, request.method, request.headers, request.port, request.source
        ),
    ):
        before, after = Verdict.of(decide(loaded.spec, req)), Verdict.of(decide(back.spec, req))
        assert before.differences(after, fields) == {}, (dump_yaml(docs), req)


def test_a_consumer_route_and_a_foreign_filter_are_reported() -> None:
    docs = list(
        yaml.safe_load_all(
            """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mine, namespace: team}
spec:
  parentRefs: [{group: "", kind: Service, name: web, namespace: shop}]
  rules:
    - filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /}}}]
      backendRefs: [{name: web, namespace: shop, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: north, namespace: shop}
spec:
  parentRefs: [{kind: Gateway, name: ingress}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
"""
        )
    )
    result = GATEWAY.import_resources(_native(docs))
    codes = sorted(d.code for d in result.diagnostics)
    assert codes == ["MS6503", "MS6504", "MS6505", "MS6506", "MS6508"]
    assert result.spec is not None
    (route,) = result.spec.service("shop/web").spec.routes
    assert route.name == "mine"


@pytest.mark.realservers
def test_live_import_keeps_the_canary_routes(kube_apiserver: Any) -> None:
    """The canary example through a real API server: applied, read back by kinds,
    imported; every routing decision is the same."""
    from meshspec import api
    from tests.adapters.validator import REPO_ROOT
    from tests.fixtures.realservers import apply_documents, crd_files, install_crds, upstream_dir

    install_crds(kube_apiserver, crd_files(upstream_dir()))
    spec = api.load(str(REPO_ROOT / "examples/canary/mesh.yaml"))
    compiled = api.compile(spec, "gateway-api", ["all"], workloads=True)
    namespaces = sorted({r["metadata"]["namespace"] for r in compiled.resources})
    made = apply_documents(
        kube_apiserver,
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces],
        dry_run=False,
    )
    assert all(r.ok for r in made)
    applied = apply_documents(kube_apiserver, compiled.resources, dry_run=False)
    assert all(r.ok for r in applied), [str(r) for r in applied if not r.ok]
    assert GATEWAY.cluster is not None
    docs, problems = GATEWAY.cluster.read(str(kube_apiserver.kubeconfig), None)
    assert not problems
    result = GATEWAY.import_resources(docs)
    assert result.spec is not None
    for src in spec.services:
        for dst in spec.services:
            for path, headers in (("/", {}), ("/cart", {"x-canary": "1"}), ("/pay", {})):
                req = Request(dst, path, "GET", headers, source=src)
                before = Verdict.of(decide(spec, req))
                after = Verdict.of(decide(result.spec, req))
                assert before.differences(after, ["route", "backends", "timeout"]) == {}, req

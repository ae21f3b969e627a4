"""Importing Linkerd: upstream configurations read as Linkerd means them, and a round trip
through Linkerd's resources keeps every decision of the spec."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
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
from meshspec.native import read_native
from meshspec.registry import get_adapter
from meshspec.semantics import Outcome, Request, decide
from meshspec.spec import Origin, Spec
from tests.adapters.validator import upstream_root

LINKERD = get_adapter("linkerd")
EXAMPLES = upstream_root() / "examples" / "linkerd"
DECISION = ["outcome", "status", "backends", "authz", "timeout", "retries"]


def _import(*paths: Path, problems_allowed: bool = False) -> Any:
    docs, problems = read_native([str(p) for p in paths])
    assert problems_allowed or not problems
    return LINKERD.import_resources(docs)


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: str(p.relative_to(EXAMPLES))
)
def test_every_upstream_example_imports(path: Path) -> None:
    """Valid or not, each file imports without a crash: a spec when it names services,
    and every finding located and said."""
    docs, _problems = read_native([str(path)])
    result = LINKERD.import_resources(docs)
    assert (result.spec is not None) == bool(result.documents)
    for d in result.diagnostics:
        assert d.message and (d.location is not None or d.target == "linkerd"), d.render()


def test_a_legacy_server_authorization_restricts_the_service() -> None:
    """emojivoto with the docs' "restricting access" Server and ServerAuthorization: only
    `web` reaches `voting`, in mTLS; `emoji` and plaintext clients are denied."""
    result = _import(
        EXAMPLES / "run.linkerd.io" / "emojivoto.yml",
        EXAMPLES / "website" / "2-edge" / "restricting-access-01.yaml",
        EXAMPLES / "website" / "2-edge" / "restricting-access-02.yaml",
    )
    spec = result.spec
    assert spec is not None

    def outcome(source: str | None) -> str:
        return str(decide(spec, Request("voting-svc.emojivoto", "/", source=source)).outcome)

    assert outcome("emojivoto/web-svc") == "forwarded"
    assert outcome("emojivoto/emoji-svc") == "denied"
    assert outcome(None) in ("denied", "mtls_refused")
    assert spec.service_account("emojivoto/web-svc") == "web"


def test_route_annotations_become_the_routes_policy() -> None:
    result = _import(
        EXAMPLES / "website" / "2-edge" / "timeouts-01.yaml",
    )
    assert result.spec is not None
    (route,) = result.spec.service("schlep/schlep").spec.routes
    assert route.timeout == 2.0
    assert [d.code for d in result.diagnostics] == ["MS2512"]  # the response timeout
    result = _import(EXAMPLES / "website" / "2-edge" / "retries-01.yaml")
    assert result.spec is not None
    (route,) = result.spec.service("schlep/schlep").spec.routes
    assert route.retries is not None
    assert (route.retries.attempts, route.retries.per_try_timeout) == (2, 0.3)
    assert route.timeout == 0  # Linkerd enforces no timeout unless one is set


#: what a compile finding says will differ (the round trip is held to the rest)
EXPECTED_LOSSES = {"MS2001": "retries"}


def _round_trip(spec: Spec) -> tuple[Spec, list[str]] | None:
    compiled = LINKERD.compile(spec, CompileOptions(workloads=True))
    if any(d.severity is Severity.ERROR for d in compiled.diagnostics):
        return None
    lost = {EXPECTED_LOSSES[d.code] for d in compiled.diagnostics if d.code in EXPECTED_LOSSES}
    native = [NativeDocument(r, Origin("<compiled>", i)) for i, r in enumerate(compiled.resources)]
    back = LINKERD.import_resources(native)
    errors = [d.render() for d in back.diagnostics if d.severity is Severity.ERROR]
    assert back.spec is not None and not errors, errors
    return back.spec, [f for f in DECISION if f not in lost]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios(), st.sampled_from(REQUEST_PATHS), st.sampled_from(("GET", "POST")))
def test_compile_then_import_keeps_every_decision(scenario: Any, path: str, method: str) -> None:
    docs, request = scenario
    loaded = load_texts([("fuzz.yaml", dump_yaml(docs))])
    if not loaded.ok or loaded.spec is None:
        return
    trip = _round_trip(loaded.spec)
    if trip is None:
        return  # the compiler said what it cannot keep
    back, fields = trip
    for req in (
        request,
        Request(request.destination, path, method, request.headers, request.port, request.source),
    ):
        before, after = _denial(decide(loaded.spec, req)), _denial(decide(back, req))
        assert before.differences(after, fields) == {}, (dump_yaml(docs), req)


def _denial(decision: Any) -> Verdict:
    """A plaintext client Linkerd denies gets 403 whatever the reason (MS2007): a port the
    spec makes STRICT and one whose authorization admits no plaintext client deny alike,
    and the importer names a port nothing plaintext reaches STRICT."""
    verdict = Verdict.of(decision)
    if verdict.outcome in ("mtls_refused", "denied"):
        return replace(verdict, outcome=Outcome.DENIED, status=403, authz=None)
    return verdict


def test_a_route_linkerd_ranks_otherwise_is_reported_with_a_request() -> None:
    """Example C: prefix /foo written before exact /foo; Linkerd ranks both by length and
    keeps the first, the spec takes the exact match."""
    docs = list(
        yaml.safe_load_all(
            """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /foo}}]
      backendRefs: [{name: web, port: 80}]
    - matches: [{path: {type: Exact, value: /foo}}]
      backendRefs: [{name: web, port: 80}]
      timeouts: {request: 1s}
"""
        )
    )
    result = LINKERD.import_resources(
        [NativeDocument(d, Origin("<t>", i)) for i, d in enumerate(docs)]
    )
    (found,) = [d for d in result.diagnostics if d.code == "MS2518"]
    assert "GET /foo takes 'web-0' in Linkerd, 'web-1'" in found.message

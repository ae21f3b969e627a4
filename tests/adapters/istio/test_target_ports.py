"""Istio with Services whose targetPort differs from their port.

Istio matches PeerAuthentication `portLevelMtls` and AuthorizationPolicy `ports`
against the workload port (the Service's targetPort) and VirtualService and
DestinationRule ports against the Service port (istio/api PR #3075, istio/istio
#49098). Every example and every conformance case, rewritten so that each port
lands 9000 higher, must keep every decision of the Istio model, and the model
must agree with the oracle wherever it agrees with `targetPort == port`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.istio.codes import AUTHZ_ALLOW_HEADER_LINES, AUTHZ_DENY_HEADER_ELEMENT
from adapters.istio.model import IstioModel
from conformance.library import builtin_cases
from conformance.targets.requests import request_of
from meshspec import api
from meshspec.adapter import Topology, Verdict
from meshspec.diagnostics import Severity
from meshspec.semantics import Request, decide
from meshspec.spec import Protocol, Spec
from tests.adapters.istio.target_ports import (
    OFFSET,
    kubernetes_services,
    requests_for,
    shifted,
    with_target_ports,
)
from tests.adapters.istio.test_differential import FIELDS, comparable

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*/mesh.yaml"))
CASE_FILES = sorted({c.source: c.spec_text for c in builtin_cases()}.items())


def _compiled(spec: Spec) -> list[dict[str, Any]]:
    result = api.compile(spec, "istio")
    # Header conditions compile as close as Istio can (MS1013, MS1014) whatever the ports.
    header_losses = {AUTHZ_DENY_HEADER_ELEMENT.code, AUTHZ_ALLOW_HEADER_LINES.code}
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    assert not [d.render() for d in errors if d.code not in header_losses]
    return result.resources


def _decisions(resources: list[dict[str, Any]], spec: Spec, topology: Topology) -> Any:
    model = IstioModel(resources, topology)
    for req in requests_for(spec):
        yield req, comparable(model.decide(req)), comparable(Verdict.of(decide(spec, req)))


def test_the_rewrite_moves_every_port() -> None:
    text = "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {name: a}\n"
    spec = api.load_text(with_target_ports(text))
    [port] = spec.service("default/a").spec.ports
    assert (port.port, port.workload_port) == (80, 80 + OFFSET)
    assert shifted(60000) == 60000 - OFFSET


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_keep_every_decision(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    plain, moved = api.load_text(text), api.load_text(with_target_ports(text))
    assert any(p.workload_port != p.port for s in moved.services.values() for p in s.spec.ports)
    before = list(_decisions(_compiled(plain), plain, Topology.of(plain)))
    after = list(_decisions(_compiled(moved), moved, Topology.of(moved)))
    assert len(before) == len(after) > 100
    for (req, istio_before, oracle_before), (_, istio_after, oracle_after) in zip(
        before, after, strict=True
    ):
        assert oracle_after == oracle_before, req  # targetPort means nothing to a client
        assert istio_after == istio_before, req
        assert istio_after.differences(oracle_after, FIELDS) == {}, (req, istio_after)


@pytest.mark.parametrize(("source", "text"), CASE_FILES, ids=[Path(s).stem for s, _ in CASE_FILES])
def test_conformance_cases_keep_every_decision(source: str, text: str) -> None:
    """The probes of the suite, including the DENY, path-normalisation and per-port
    mTLS probes that real Istio let through with service ports in the policies."""
    plain, moved = api.load_text(text), api.load_text(with_target_ports(text))
    probes = [p for c in builtin_cases() if c.source == source for p in c.case.probes]
    assert probes
    plain_model = IstioModel(_compiled(plain), Topology.of(plain))
    moved_resources = _compiled(moved)
    by_topology = IstioModel(moved_resources, Topology.of(moved))
    # the mapping read from Kubernetes Services, as istiod reads it
    by_services = IstioModel(moved_resources + kubernetes_services(moved), Topology.of(plain))
    for probe in probes:
        req = request_of(probe)
        expected = plain_model.decide(req)
        assert by_topology.decide(req) == expected, probe
        assert by_services.decide(req) == expected, probe


def _deny_on_http_port() -> str:
    return """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80}, {port: 8080, protocol: tcp}]
  mtls: {ports: {80: PERMISSIVE}}
  authorization:
    rules:
      - {name: no-delete, action: DENY, to: {methods: [DELETE]}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client}
"""


def test_service_ports_in_workload_fields_are_caught() -> None:
    """What the compiler used to write (service ports in `ports` and `portLevelMtls`)
    under Services that map 80 -> 9080: the DENY rule and the PERMISSIVE port vanish,
    and the model says so."""
    plain = api.load_text(_deny_on_http_port())
    moved = api.load_text(with_target_ports(_deny_on_http_port()))
    stale = IstioModel(_compiled(plain) + kubernetes_services(moved), Topology.of(plain))
    fixed = IstioModel(_compiled(moved) + kubernetes_services(moved), Topology.of(plain))
    delete = Request("web", "/", "DELETE", source="client")
    outside = Request("web", "/", "GET", port=80)
    assert Verdict.of(decide(moved, delete)).outcome == "denied"
    assert stale.decide(delete).outcome == "forwarded"
    assert fixed.decide(delete).outcome == "denied"
    assert Verdict.of(decide(moved, outside)).outcome == "forwarded"
    assert stale.decide(outside).outcome == "mtls_refused"
    assert fixed.decide(outside).outcome == "forwarded"


def test_workload_fields_carry_target_ports_and_service_fields_carry_ports() -> None:
    spec = api.load_text(with_target_ports(_deny_on_http_port()))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in _compiled(spec):
        by_kind.setdefault(r["kind"], []).append(r)
    [deny] = [p for p in by_kind["AuthorizationPolicy"] if p["spec"]["action"] == "DENY"]
    assert deny["spec"]["rules"][0]["to"][0]["operation"]["ports"] == [str(80 + OFFSET)]
    [workload_pa] = [p for p in by_kind["PeerAuthentication"] if "selector" in p["spec"]]
    assert list(workload_pa["spec"]["portLevelMtls"]) == [str(80 + OFFSET)]
    [rule] = [d for d in by_kind["DestinationRule"] if d["metadata"]["name"] == "web"]
    numbers = [s["port"]["number"] for s in rule["spec"]["trafficPolicy"]["portLevelSettings"]]
    assert numbers == [80]


def test_shared_target_port_is_one_workload_port() -> None:
    """Two service ports on one container port (Kubernetes allows it): one entry."""
    text = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80, targetPort: 8080}, {port: 8080}, {port: 9000, protocol: tcp}]
  mtls: {mode: STRICT, ports: {80: PERMISSIVE, 8080: PERMISSIVE}}
  authorization:
    rules:
      - {name: no-delete, action: DENY, to: {methods: [DELETE]}}
"""
    spec = api.load_text(text)
    resources = _compiled(spec)
    [deny] = [
        r for r in resources if r["kind"] == "AuthorizationPolicy" and r["spec"]["action"] == "DENY"
    ]
    assert deny["spec"]["rules"][0]["to"][0]["operation"]["ports"] == ["8080"]
    [pa] = [r for r in resources if r["kind"] == "PeerAuthentication" and "selector" in r["spec"]]
    assert pa["spec"]["portLevelMtls"] == {"8080": {"mode": "PERMISSIVE"}}
    model = IstioModel(resources, Topology.of(spec))
    for port in (80, 8080):
        req = Request("web", "/", "DELETE", source="web", port=port)
        assert model.decide(req).outcome == Verdict.of(decide(spec, req)).outcome == "denied"
    tcp = spec.service("default/web").spec.ports[2]
    assert tcp.protocol is Protocol.TCP and tcp.workload_port == 9000

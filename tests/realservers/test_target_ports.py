"""Compiled Istio output applied together with Services whose targetPort differs.

Every example and conformance spec is rewritten so that each port lands 9000
higher. The real API server takes the Services and the compiled objects (with
the mesh CRDs and their CEL rules installed); the Istio model then reads the
port -> targetPort mapping from the Services as the server returns them (as
istiod does) and must decide every request as the oracle does. istioctl's
offline analysis of the Services and the output together finds no error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.istio.model import IstioModel
from conformance.library import builtin_cases
from conformance.targets.requests import request_of
from meshspec import api
from meshspec.adapter import Topology, Verdict
from meshspec.codecs import dump_yaml
from meshspec.diagnostics import has_errors
from meshspec.semantics import decide
from tests.adapters.istio.target_ports import (
    kubernetes_services,
    requests_for,
    with_target_ports,
)
from tests.fixtures.realservers import (
    REPO_ROOT,
    KubeAPIServer,
    apply_documents,
    crd_files,
    install_crds,
    istioctl_analyze,
)

pytestmark = pytest.mark.realservers

FIELDS = ["outcome", "status", "authz", "mtls", "transport"]
SPECS = {
    p.parent.name: p.read_text(encoding="utf-8")
    for p in (REPO_ROOT / "examples").glob("*/mesh.yaml")
}
PROBES: dict[str, list[Any]] = {}
for _case in builtin_cases():
    name = "case-" + Path(_case.source).stem
    SPECS.setdefault(name, _case.spec_text)
    PROBES.setdefault(name, []).extend(_case.case.probes)


@pytest.fixture(scope="module")
def crds(kube_apiserver: KubeAPIServer, upstream: Path) -> list[str]:
    return install_crds(kube_apiserver, crd_files(upstream))


def _moved(name: str) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    spec = api.load_text(with_target_ports(SPECS[name]))
    # A case whose authorization Istio cannot keep whole (header elements, MS1013/MS1014)
    # is compiled with that loss allowed, so its ports are checked too; the loss itself
    # is tested with the header conditions.
    result = api.compile(spec, "istio", allow_lossy=["authz"])
    assert not has_errors(result.diagnostics), [d.render() for d in result.diagnostics]
    return spec, result.resources, kubernetes_services(spec)


def _served_services(server: KubeAPIServer, services: list[dict[str, Any]]) -> list[Any]:
    dyn = server.dynamic_client()
    api_ = dyn.resources.get(api_version="v1", kind="Service")
    out = []
    for svc in services:
        meta = svc["metadata"]
        out.append(api_.get(name=meta["name"], namespace=meta["namespace"]).to_dict())
    return out


@pytest.mark.parametrize("name", sorted(SPECS))
def test_api_server_takes_services_and_output_and_the_model_keeps_the_spec(
    kube_apiserver: KubeAPIServer, crds: list[str], name: str
) -> None:
    spec, resources, services = _moved(name)
    namespaces = sorted(
        {str(d["metadata"].get("namespace") or "default") for d in resources + services}
    )
    ns_docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces
    ]
    assert all(r.ok for r in apply_documents(kube_apiserver, ns_docs, dry_run=False))
    for dry_run in (True, False):
        results = apply_documents(kube_apiserver, services + resources, dry_run=dry_run)
        assert [str(r) for r in results if not r.ok] == []

    served = _served_services(kube_apiserver, services)
    assert all(p["targetPort"] != p["port"] for s in served for p in s["spec"]["ports"])
    plain = api.load_text(SPECS[name])
    # ports only, no targetPorts: the mapping comes from the served Services alone
    model = IstioModel(resources + served, Topology.of(plain))
    # what Istio does with the same spec when every targetPort equals its port
    same_ports = IstioModel(
        api.compile(plain, "istio", allow_lossy=["authz"]).resources, Topology.of(plain)
    )
    requests = [request_of(p) for p in PROBES.get(name, [])] or list(requests_for(spec))
    for req in requests:
        got = model.decide(req)
        assert got == same_ports.decide(req), req
        if not PROBES.get(name):
            oracle = Verdict.of(decide(spec, req))
            assert got.differences(oracle, FIELDS) == {}, (req, got, oracle)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_istioctl_finds_no_error_in_services_and_output(
    istioctl: Path, tmp_path: Path, name: str
) -> None:
    _, resources, services = _moved(name)
    path = tmp_path / f"{name}.yaml"
    path.write_text(dump_yaml(services + resources), encoding="utf-8")
    rc, out = istioctl_analyze([path], istioctl=istioctl)
    assert rc == 0 and "Error [" not in out, out

"""`meshspec import --live` reads who runs each service from a real API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshspec import api
from meshspec.diagnostics import Severity
from meshspec.semantics import Request, decide

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.realservers
def test_live_import_reads_service_accounts_ports_and_trust_domain(tmp_path: Path) -> None:
    """A cluster of the test's own: the import reads every namespace, so what other
    tests applied to the session's server would be imported too."""
    from tests.fixtures.realservers import start_local_cluster

    with start_local_cluster(tmp_path / "cluster") as server:
        _check_live_import(server)


def _check_live_import(kube_apiserver: Any) -> None:
    from adapters.istio.cluster import read_cluster
    from adapters.istio.importer import import_istio
    from tests.fixtures.realservers import apply_documents, install_crds, upstream_dir

    install_crds(kube_apiserver, [upstream_dir() / "crds" / "istio" / "crd-all.gen.yaml"])
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in ("istio-system", "core", "edge")
    ]
    assert all(r.ok for r in apply_documents(kube_apiserver, namespaces, dry_run=False))
    text = (
        (REPO / "examples/zero-trust/mesh.yaml")
        .read_text()
        .replace("    - port: 8080\n", "    - port: 8080\n      targetPort: 18080\n", 1)
    )
    spec = api.load_text(text)
    compiled = api.compile(spec, "istio", workloads=True)
    applied = apply_documents(kube_apiserver, compiled.resources, dry_run=False)
    assert all(r.ok for r in applied), [r for r in applied if not r.ok]

    docs, problems = read_cluster(str(kube_apiserver.kubeconfig), None)
    assert not problems
    result = import_istio(docs)
    assert not [d.render() for d in result.diagnostics if d.severity is Severity.ERROR]
    assert result.spec is not None
    assert result.spec.mesh.trust_domain == "bank.internal"
    (moved,) = [k for k, s in spec.services.items() if s.spec.ports[0].target_port]
    port = result.spec.service(moved).spec.ports[0]
    assert (port.port, port.target_port) == (8080, 18080)
    for key in spec.services:
        assert result.spec.service_account(key) == spec.service_account(key)
    # The API server's own Service is not a mesh service.
    assert "default/kubernetes" not in result.spec.services
    for src in spec.services:
        for dst in spec.services:
            req = Request(dst, "/entries", "POST", source=src)
            assert decide(result.spec, req).outcome == decide(spec, req).outcome

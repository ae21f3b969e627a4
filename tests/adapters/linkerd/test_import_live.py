"""`meshspec import --live --from linkerd` reads Linkerd's resources, and who runs each
service, from a real API server: the zero-trust example survives the trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshspec import api
from meshspec.diagnostics import Severity
from meshspec.semantics import Request, decide

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.realservers
def test_live_import_keeps_the_zero_trust_decisions(kube_apiserver: Any) -> None:
    from adapters.linkerd import adapter
    from tests.fixtures.realservers import apply_documents, crd_files, install_crds, upstream_dir

    install_crds(kube_apiserver, crd_files(upstream_dir()))
    spec = api.load(str(REPO / "examples/zero-trust/mesh.yaml"))
    compiled = api.compile(spec, "linkerd", workloads=True)
    namespaces = sorted({r["metadata"]["namespace"] for r in compiled.resources})
    made = apply_documents(
        kube_apiserver,
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces],
        dry_run=False,
    )
    assert all(r.ok for r in made)
    applied = apply_documents(kube_apiserver, compiled.resources, dry_run=False)
    assert all(r.ok for r in applied), [str(r) for r in applied if not r.ok]

    assert adapter.cluster is not None
    docs, problems = adapter.cluster.read(str(kube_apiserver.kubeconfig), None)
    assert not problems
    result = adapter.import_resources(docs)
    assert not [d.render() for d in result.diagnostics if d.severity is Severity.ERROR]
    assert result.spec is not None
    assert result.spec.mesh.trust_domain == "bank.internal"
    for key in spec.services:
        assert result.spec.service_account(key) == spec.service_account(key)
    for src in [None, *spec.services]:
        for dst in spec.services:
            for method, path in (
                ("POST", "/entries"),
                ("GET", "/v1/accounts/1"),
                ("GET", "/v1/admin"),
            ):
                req = Request(dst, path, method, {"x-request-id": "1"}, source=src)
                before, after = decide(spec, req), decide(result.spec, req)
                assert (before.outcome, before.weights()) == (after.outcome, after.weights()) or {
                    before.outcome,
                    after.outcome,
                } == {"denied", "mtls_refused"}, (src, dst, method, path)

"""Every example, compiled for every Kubernetes target, is accepted by the real tools.

istioctl's offline analysis must report no error, and the real API server
(with the mesh CRDs and their CEL rules installed) must accept every object
with server-side apply, first as a dry run and then for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshspec.api import compile as compile_spec
from meshspec.api import load
from meshspec.codecs import dump_yaml
from meshspec.diagnostics import has_errors
from meshspec.registry import available_targets
from tests.fixtures.realservers import (
    REPO_ROOT,
    KubeAPIServer,
    apply_documents,
    crd_files,
    install_crds,
    istioctl_analyze,
    istioctl_validate,
)

pytestmark = pytest.mark.realservers

EXAMPLES = sorted(p.parent.name for p in (REPO_ROOT / "examples").glob("*/mesh.yaml"))
#: Targets whose output is Kubernetes objects (`consul` writes Consul config entries; its
#: Kubernetes form is `consul-k8s`).
KUBERNETES_TARGETS = [
    t
    for t in available_targets()
    if t in {"istio", "linkerd", "consul-k8s", "gateway-api", "vpc-lattice"}
]


def _compiled(example: str, target: str) -> list[dict[str, Any]]:
    spec = load(str(REPO_ROOT / "examples" / example / "mesh.yaml"))
    # Allowing security losses changes severities, never the resources (the contract test
    # checks it): what the server must accept is the same either way.
    result = compile_spec(spec, target, ["all"])
    assert not has_errors(result.diagnostics), [d.render() for d in result.diagnostics]
    assert result.resources, f"{example} compiled to nothing for {target}"
    return result.resources


@pytest.fixture(scope="module")
def crds(kube_apiserver: KubeAPIServer, upstream: Path) -> list[str]:
    return install_crds(kube_apiserver, crd_files(upstream))


def test_every_example_is_checked() -> None:
    assert {"bookinfo", "canary", "zero-trust"} <= set(EXAMPLES)
    assert {"istio", "vpc-lattice"} <= set(KUBERNETES_TARGETS)


@pytest.mark.parametrize("example", EXAMPLES)
def test_istioctl_finds_no_error_in_compiled_output(
    istioctl: Path, tmp_path: Path, example: str
) -> None:
    path = tmp_path / f"{example}.yaml"
    path.write_text(dump_yaml(_compiled(example, "istio")), encoding="utf-8")

    rc, out = istioctl_validate([path], istioctl=istioctl)
    assert rc == 0 and "is valid" in out, out
    assert "has warnings" not in out, out
    rc, out = istioctl_analyze([path], istioctl=istioctl)
    assert rc == 0 and "Error [" not in out, out


@pytest.mark.parametrize("target", KUBERNETES_TARGETS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_api_server_accepts_compiled_output(
    kube_apiserver: KubeAPIServer, crds: list[str], upstream: Path, example: str, target: str
) -> None:
    docs = _compiled(example, target)
    # vpc-lattice's service-network Gateway is checked against the Gateway CRD that the
    # real-server install fetches (the shared data carries the route CRDs only)
    namespaces = sorted({str(d["metadata"].get("namespace") or "default") for d in docs})
    ns_docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces
    ]
    made = apply_documents(kube_apiserver, ns_docs, dry_run=False)
    assert all(r.ok for r in made), [str(r) for r in made]

    dry = apply_documents(kube_apiserver, docs, dry_run=True)
    assert [str(r) for r in dry if not r.ok] == []
    real = apply_documents(kube_apiserver, docs, dry_run=False)
    assert [str(r) for r in real if not r.ok] == []
    for doc, result in zip(docs, real, strict=True):
        assert result.object is not None
        # The server kept every field we sent: nothing pruned as unknown (a core Service
        # also gets the fields the API server fills in: clusterIP, type, ...).
        kept = result.object["spec"]
        if doc["kind"] == "Service":
            kept = {k: v for k, v in kept.items() if k in doc["spec"]}
        assert kept == doc["spec"], doc["metadata"]["name"]

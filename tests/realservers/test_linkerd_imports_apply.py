"""Every upstream Linkerd configuration that imports to services, compiled back for
Linkerd, is accepted by the real API server with Linkerd's and Gateway API's CRDs (their
CEL rules included), as a dry run and for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshspec.adapter import CompileOptions
from meshspec.native import read_native
from meshspec.registry import get_adapter
from tests.fixtures.realservers import (
    KubeAPIServer,
    apply_documents,
    crd_files,
    install_crds,
    upstream_dir,
)

pytestmark = pytest.mark.realservers

LINKERD = get_adapter("linkerd")
EXAMPLES = upstream_dir() / "examples" / "linkerd"


def _imported_then_compiled(path: Path) -> list[dict[str, Any]]:
    docs, _ = read_native([str(path)])
    imported = LINKERD.import_resources(docs)
    if imported.spec is None:
        return []
    compiled = LINKERD.compile(imported.spec, CompileOptions(allow_lossy=frozenset({"all"})))
    return compiled.resources


IMPORTABLE = [p for p in sorted(EXAMPLES.rglob("*.yaml")) if _imported_then_compiled(p)]


@pytest.fixture(scope="module")
def crds(kube_apiserver: KubeAPIServer, upstream: Path) -> list[str]:
    return install_crds(kube_apiserver, crd_files(upstream))


def test_some_upstream_examples_import_to_services() -> None:
    assert len(IMPORTABLE) >= 10, IMPORTABLE


@pytest.mark.parametrize("path", IMPORTABLE, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_api_server_accepts_what_an_imported_example_compiles_to(
    kube_apiserver: KubeAPIServer, crds: list[str], path: Path
) -> None:
    docs = _imported_then_compiled(path)
    namespaces = sorted({str(d["metadata"].get("namespace") or "default") for d in docs})
    made = apply_documents(
        kube_apiserver,
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces],
        dry_run=False,
    )
    assert all(r.ok for r in made), [str(r) for r in made]
    dry = apply_documents(kube_apiserver, docs, dry_run=True)
    assert [str(r) for r in dry if not r.ok] == []
    real = apply_documents(kube_apiserver, docs, dry_run=False)
    assert [str(r) for r in real if not r.ok] == []

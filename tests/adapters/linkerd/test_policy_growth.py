"""Linkerd's policies are compiled in time linear in the mesh: a cell of a service's
policy asks the peers its rules name and one peer per namespace the rules name, not
every client of the mesh, nor every namespace of it (in the benchmark's mesh, with 50
services per namespace, there are services x namespaces of those). Counted, not timed:
the clients asked per compile."""

from __future__ import annotations

import pytest

from adapters.linkerd import _policy
from bench.compile.mesh import service_document
from meshspec.adapter import CompileOptions
from meshspec.registry import get_adapter
from meshspec.spec import MeshDocument, Origin, ServiceDocument, Spec


def _mesh(total: int, per_namespace: int) -> Spec:
    """The benchmark's mesh with `per_namespace` services in each namespace: one namespace
    when that is the whole mesh (only the services grow), otherwise the namespaces grow
    with the mesh too."""
    mesh = MeshDocument.model_validate(
        {"apiVersion": "meshspec.io/v1alpha1", "kind": "Mesh", "metadata": {"name": "bench"}}
    )
    docs: list[MeshDocument | ServiceDocument] = [mesh]
    for i in range(total):
        docs.append(ServiceDocument.model_validate(service_document(i, total, per_namespace)))
    return Spec.build(docs, {"mesh": Origin("bench.yaml")})


def _clients_asked(total: int, per_namespace: int, monkeypatch: pytest.MonkeyPatch) -> int:
    asked = 0
    namespace_of = _policy.PolicyCompiler._namespace_of

    def counted(self: _policy.PolicyCompiler, spiffe: str | None) -> str | None:
        nonlocal asked
        asked += 1
        return namespace_of(self, spiffe)

    with monkeypatch.context() as patch:
        patch.setattr(_policy.PolicyCompiler, "_namespace_of", counted)
        result = get_adapter("linkerd").compile(
            _mesh(total, per_namespace), CompileOptions(allow_lossy=frozenset({"all"}))
        )
    assert result.resources
    return asked


@pytest.mark.parametrize(
    "per_namespace",
    [1_000_000, 4],
    ids=["one namespace", "namespaces grow with the mesh"],
)
def test_twice_the_services_ask_about_twice_the_clients(
    per_namespace: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = _clients_asked(40, per_namespace, monkeypatch)
    large = _clients_asked(80, per_namespace, monkeypatch)
    assert small > 0
    assert large / small < 2.2, (small, large)

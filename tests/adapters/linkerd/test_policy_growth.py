"""Linkerd's policies are compiled in time linear in the mesh: a cell of a service's
policy asks the peers its rules name and one peer per namespace for the others, not
every client of the mesh. Counted, not timed: the clients asked per compile."""

from __future__ import annotations

import pytest

from adapters.linkerd import _policy
from bench.compile.mesh import service_document
from meshspec.adapter import CompileOptions
from meshspec.registry import get_adapter
from meshspec.spec import MeshDocument, Origin, ServiceDocument, Spec


def _one_namespace(total: int) -> Spec:
    """The benchmark's mesh with every service in one namespace (so only the services
    grow, not the namespaces)."""
    mesh = MeshDocument.model_validate(
        {"apiVersion": "meshspec.io/v1alpha1", "kind": "Mesh", "metadata": {"name": "bench"}}
    )
    docs: list[MeshDocument | ServiceDocument] = [mesh]
    for i in range(total):
        docs.append(ServiceDocument.model_validate(service_document(i, total, total)))
    return Spec.build(docs, {"mesh": Origin("bench.yaml")})


def _clients_asked(total: int, monkeypatch: pytest.MonkeyPatch) -> int:
    asked = 0
    namespace_of = _policy.PolicyCompiler._namespace_of

    def counted(self: _policy.PolicyCompiler, spiffe: str | None) -> str | None:
        nonlocal asked
        asked += 1
        return namespace_of(self, spiffe)

    with monkeypatch.context() as patch:
        patch.setattr(_policy.PolicyCompiler, "_namespace_of", counted)
        result = get_adapter("linkerd").compile(
            _one_namespace(total), CompileOptions(allow_lossy=frozenset({"all"}))
        )
    assert result.resources
    return asked


def test_twice_the_services_ask_about_twice_the_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = _clients_asked(40, monkeypatch), _clients_asked(80, monkeypatch)
    assert small > 0
    assert large / small < 2.2, (small, large)

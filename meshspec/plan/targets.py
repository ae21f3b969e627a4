"""A target as the plan sees it: resources compiled from a spec, and its model over them.

Installed adapters compile and model their mesh. The reference mesh runs the
neutral spec itself: its resources are the spec's documents and its
behaviour is the oracle's, so it needs no adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from meshspec.adapter import CompileOptions, Topology
from meshspec.api import apply_lossy_policy
from meshspec.diagnostics import Diagnostic
from meshspec.diff import Decider, guarded, oracle
from meshspec.errors import SpecError
from meshspec.registry import available_targets, get_adapter
from meshspec.spec import MeshDocument, ServiceDocument, Spec

REFERENCE = "reference"


def plan_targets() -> list[str]:
    return sorted({REFERENCE, *available_targets()})


def spec_documents(spec: Spec) -> list[dict[str, Any]]:
    """The spec as neutral documents, ready to write and to read back."""
    meta = (
        spec.mesh_metadata.model_dump(mode="json", exclude_none=True)
        if spec.mesh_metadata
        else None
    )
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "meshspec.io/v1alpha1",
            "kind": "Mesh",
            "metadata": meta or {"name": "mesh"},
            "spec": spec.mesh.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
    ]
    for doc in spec:
        docs.append(doc.model_dump(mode="json", by_alias=True, exclude_none=True))
    return docs


def compile_for(
    target: str, spec: Spec, allow_lossy: frozenset[str] = frozenset()
) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    if target == REFERENCE:
        return spec_documents(spec), []
    result = get_adapter(target).compile(spec, CompileOptions(allow_lossy=allow_lossy))
    return result.resources, apply_lossy_policy(result.diagnostics, allow_lossy)


def reference_spec(resources: Sequence[dict[str, Any]]) -> Spec:
    """The spec the reference control plane would serve from these documents."""
    try:
        docs: list[MeshDocument | ServiceDocument] = [
            MeshDocument.model_validate(d)
            if d.get("kind") == "Mesh"
            else ServiceDocument.model_validate(d)
            for d in resources
        ]
    except ValidationError as exc:
        raise SpecError(f"the reference resources do not validate: {exc}") from None
    return Spec.build(docs)


def target_decider(target: str, resources: Sequence[dict[str, Any]], spec: Spec) -> Decider:
    """The target's behaviour over `resources`, deployed as `spec`'s services are."""
    if target == REFERENCE:
        return oracle(reference_spec(resources))
    model = get_adapter(target).model(resources, Topology.of(spec))
    return guarded(model.decide)

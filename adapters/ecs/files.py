"""ECS inputs as JSON files: what `aws ecs create-service --cli-input-json file://F`
(and `register-task-definition`) reads, without meshspec's envelope keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.ecs.names import ENVELOPE, SERVICE
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic
from meshspec.json_text import indented_json
from meshspec.native import read_native


def api_input(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource as the ECS API takes it (meshspec's envelope keys removed)."""
    return {k: v for k, v in resource.items() if k not in ENVELOPE}


def render(resources: Sequence[Mapping[str, Any]], fmt: str) -> list[tuple[str, str]]:
    """(file name, JSON) per resource; the names sort in apply order (task definitions
    first): `01-taskdefinition-<family>.json`, `02-service-<serviceName>.json`."""
    if fmt != "json":
        raise ValueError(f"ECS Service Connect has no file format {fmt!r}")
    width = len(str(len(resources)))
    out = []
    for i, res in enumerate(resources, 1):
        kind = str(res.get("kind", SERVICE))
        name = res.get("serviceName") or res.get("family") or ""
        stem = f"{i:0{width}d}-{kind}-{name}".lower()
        out.append((stem + ".json", indented_json(api_input(res)) + "\n"))
    return out


def read_files(paths: Sequence[str]) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """JSON or YAML: create-service / update-service input, describe-services output,
    register-task-definition input; the importer tells them apart."""
    return read_native(paths)

"""Whole-document golden files of `ecs-service-connect`: every example's
create-service and register-task-definition inputs, with the findings as leading
comments.

After an intended change: `MESHSPEC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/adapters/ecs/test_golden.py`, then review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.ecs import adapter
from meshspec.adapter import CompileOptions
from meshspec.codecs import dump_yaml
from meshspec.diagnostics import sorted_diagnostics
from meshspec.loader import load_texts
from tests.adapters.validator import REPO_ROOT

GOLDEN = Path(__file__).parents[1] / "golden" / "ecs-service-connect"
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*/mesh.yaml"))


def _render(example: Path) -> str:
    name = example.relative_to(REPO_ROOT).as_posix()
    loaded = load_texts([(name, example.read_text(encoding="utf-8"))])
    assert loaded.ok and loaded.spec is not None
    options = CompileOptions(allow_lossy=frozenset({"all"}), workloads=True)
    result = adapter.compile(loaded.spec, options)
    lines = [
        f"# meshspec compile --target ecs-service-connect --allow-lossy all --workloads {name}"
    ]
    lines += [
        f"# {d.severity} {d.code} at {d.location}: {d.path}"
        for d in sorted_diagnostics(result.diagnostics)
    ]
    return "\n".join(lines) + "\n" + dump_yaml(result.resources)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_golden(example: Path) -> None:
    golden = GOLDEN / f"{example.parent.name}.yaml"
    text = _render(example)
    if os.environ.get("MESHSPEC_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with MESHSPEC_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"{golden} differs"

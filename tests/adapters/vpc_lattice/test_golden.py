"""Whole-document golden files of the vpc-lattice target: every example's output, byte
for byte, with its findings as leading comments; each object checked against the
published CRDs (HTTPRoute from Gateway API, the policies from the AWS controller;
the Gateway once the shared data carries its CRD).

After an intended change: `MESHSPEC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/adapters/vpc_lattice/test_golden.py`, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meshspec.api import compile as compile_spec
from meshspec.codecs import dump_yaml
from meshspec.diagnostics import sorted_diagnostics
from meshspec.loader import load_texts
from tests.adapters.validator import REPO_ROOT, assert_valid_crds

GOLDEN = Path(__file__).parents[1] / "golden" / "vpc-lattice"
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*/mesh.yaml"))
TARGET = "vpc-lattice"


def _render(example: Path) -> str:
    name = example.relative_to(REPO_ROOT).as_posix()
    loaded = load_texts([(name, example.read_text(encoding="utf-8"))])
    assert loaded.ok and loaded.spec is not None
    result = compile_spec(loaded.spec, TARGET, ["all"])
    assert_valid_crds(result.resources, TARGET)
    lines = [f"# meshspec compile --target {TARGET} --allow-lossy all {name}"]
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

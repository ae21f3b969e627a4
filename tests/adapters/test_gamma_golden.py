"""Whole-document golden files of the GAMMA targets (`linkerd`, `gateway-api`): every
example's output, byte for byte, with its findings as leading comments.

After an intended change: `MESHSPEC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/adapters/test_gamma_golden.py`, then review the diff. Security losses are accepted
(as `--allow-lossy all`), so every example has output to compare.
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

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*/mesh.yaml"))
TARGETS = ("linkerd", "gateway-api")


def _render(example: Path, target: str) -> str:
    name = example.relative_to(REPO_ROOT).as_posix()
    loaded = load_texts([(name, example.read_text(encoding="utf-8"))])
    assert loaded.ok and loaded.spec is not None
    result = compile_spec(loaded.spec, target, ["all"])
    assert_valid_crds(result.resources, target)
    lines = [f"# meshspec compile --target {target} --allow-lossy all {name}"]
    lines += [
        f"# {d.severity} {d.code} at {d.location}: {d.path}"
        for d in sorted_diagnostics(result.diagnostics)
    ]
    return "\n".join(lines) + "\n" + dump_yaml(result.resources)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_golden(example: Path, target: str) -> None:
    golden = GOLDEN / target / f"{example.parent.name}.yaml"
    text = _render(example, target)
    if os.environ.get("MESHSPEC_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with MESHSPEC_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"{golden} differs"

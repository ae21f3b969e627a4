"""Whole-document golden files: the Istio output of every example, byte for byte.

Regenerate after an intended change with
`MESHSPEC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/adapters/istio/test_compile_golden.py`
and review the diff. Examples are compiled with every security loss accepted
(as `--allow-lossy all` would); the findings head each golden file as comments.
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


def render(example: Path) -> str:
    """The compiled output with its findings, as `meshspec compile` would print them."""
    name = example.relative_to(REPO_ROOT).as_posix()
    loaded = load_texts([(name, example.read_text(encoding="utf-8"))])
    assert loaded.ok and loaded.spec is not None, [d.render() for d in loaded.diagnostics]
    result = compile_spec(loaded.spec, "istio", ["all"])
    assert_valid_crds(result.resources, "istio")
    notes = [
        f"# {d.severity} {d.code} at {d.location}: {d.path}"
        for d in sorted_diagnostics(result.diagnostics)
    ]
    header = [f"# meshspec compile --target istio --allow-lossy all {name}", *notes]
    text = dump_yaml(result.resources)
    assert "&id" not in text, "shared objects come out as YAML anchors"
    return "\n".join(header) + "\n" + text


def test_examples_exist() -> None:
    assert EXAMPLES, "no examples/*/mesh.yaml found"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_golden(example: Path) -> None:
    golden = GOLDEN / f"{example.parent.name}.yaml"
    text = render(example)
    if os.environ.get("MESHSPEC_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; run with MESHSPEC_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if intended: MESHSPEC_UPDATE_GOLDEN=1 pytest {__file__}"
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_output_is_deterministic(example: Path) -> None:
    assert render(example) == render(example)

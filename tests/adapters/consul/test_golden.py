"""Whole-document golden files: the `consul` target's HCL files of every example, byte for
byte, as `meshspec compile --target consul --format hcl --output-dir` writes them.

Regenerate after an intended change with
`MESHSPEC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/adapters/consul/test_golden.py`
and review the diff. Security losses are accepted (`--allow-lossy all`); the findings head
each golden file as comments.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.consul.entries import config_entry
from adapters.consul.files import parse_hcl, render
from meshspec.api import compile as compile_spec
from meshspec.diagnostics import sorted_diagnostics
from meshspec.loader import load_texts
from tests.adapters.validator import REPO_ROOT

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*/mesh.yaml"))


def _render(example: Path) -> str:
    name = example.relative_to(REPO_ROOT).as_posix()
    loaded = load_texts([(name, example.read_text(encoding="utf-8"))])
    assert loaded.ok and loaded.spec is not None
    result = compile_spec(loaded.spec, "consul", ["all"])
    notes = [
        f"# {d.severity} {d.code} at {d.location}: {d.path}"
        for d in sorted_diagnostics(result.diagnostics)
    ]
    out = [f"# meshspec compile --target consul --format hcl --allow-lossy all {name}", *notes]
    for (file, text), resource in zip(
        render(result.resources, "hcl"), result.resources, strict=True
    ):
        # every file reads back as the entry it holds
        assert parse_hcl(text) == (config_entry(resource), "")
        out.append(f"# --- {file}\n{text.rstrip()}")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_golden(example: Path) -> None:
    golden = GOLDEN / f"{example.parent.name}.hcl"
    text = _render(example)
    if os.environ.get("MESHSPEC_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; run with MESHSPEC_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if intended: MESHSPEC_UPDATE_GOLDEN=1 pytest {__file__}"
    )

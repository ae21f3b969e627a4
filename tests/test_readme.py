"""The README tells the truth: its support matrix is the generated one."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _sync_module() -> ModuleType:
    spec = importlib.util.spec_from_loader(
        "sync_readme_matrix",
        importlib.machinery.SourceFileLoader(
            "sync_readme_matrix", str(ROOT / "scripts" / "sync-readme-matrix")
        ),
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_shows_the_generated_support_matrix() -> None:
    sync = _sync_module()
    matrix = (ROOT / "docs" / "support-matrix.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sync.readme_block(readme) == sync.summary_table(matrix), (
        "README's support matrix is stale: run scripts/sync-readme-matrix"
    )


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "meshspec compile --target istio examples/bookinfo/mesh.yaml" in readme
    assert "scripts/test" in readme
    assert (ROOT / "examples" / "bookinfo" / "mesh.yaml").is_file()

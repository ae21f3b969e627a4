"""The core stays sans-I/O: nothing in it may import the network, the clock or randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import reference_impl.core

FORBIDDEN = {"asyncio", "socket", "ssl", "time", "random", "selectors", "threading", "uvloop"}
CORE = Path(reference_impl.core.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_modules_import_no_io() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) >= 5
    for module in modules:
        bad = imported_roots(module) & FORBIDDEN
        assert not bad, f"{module.name} imports {sorted(bad)}"


def test_core_asks_the_oracle() -> None:
    """Policy comes from meshspec.semantics: the decision modules must import it."""
    for name in ("outbound.py", "inbound.py"):
        assert "meshspec" in imported_roots(CORE / name)
        assert "from meshspec.semantics import" in (CORE / name).read_text()

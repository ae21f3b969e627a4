"""The dependency direction of decisions.md §1, checked on every .py file's imports (AST)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import meshspec

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("meshspec", "adapters", "reference_impl", "conformance")
#: packages under adapters/ that every adapter builds on (the kit)
SHARED = ("kit",)
CURATED_API = {
    "Decision",
    "Diagnostic",
    "Location",
    "MeshSpecError",
    "Request",
    "Severity",
    "Spec",
    "SpecError",
    "UnknownTarget",
    "__version__",
    "compile",
    "explain",
    "import_resources",
    "load",
    "load_text",
    "validate",
}


def imported_modules(source: str, module: str) -> Iterator[str]:
    """Absolute names of every module `source` imports (relative imports resolved)."""
    tree = ast.parse(source)
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name
            for alias in node.names:
                yield f"{name}.{alias.name}"


def python_files(package: str) -> list[Path]:
    folder = ROOT / package
    return sorted(folder.rglob("*.py")) if folder.is_dir() else []


def module_name(path: Path) -> str:
    """`a/b/c.py` -> `a.b.c`; a package's `__init__` keeps its own name as the package."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imports_of(package: str) -> list[tuple[str, str]]:
    found = []
    for path in python_files(package):
        for name in imported_modules(path.read_text(encoding="utf-8"), module_name(path)):
            found.append((module_name(path), name))
    return found


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_checker_sees_relative_and_absolute_imports() -> None:
    code = "import os\nfrom adapters.istio import x\nfrom ..linkerd import y\nfrom . import z\n"
    names = set(imported_modules(code, "adapters.istio.compiler"))
    assert {"os", "adapters.istio", "adapters.linkerd"} <= names
    assert "adapters.istio.z" in names


def test_meshspec_imports_none_of_the_other_packages() -> None:
    assert python_files("meshspec")
    bad = [(m, n) for m, n in imports_of("meshspec") if top(n) in PACKAGES[1:]]
    assert bad == []


def test_adapters_never_import_each_other() -> None:
    bad = []
    for module, name in imports_of("adapters"):
        parts = module.split(".")
        if len(parts) < 3 or parts[1].startswith("_"):
            continue  # shared code: adapters/_*.py and the package itself
        own = parts[1]
        if top(name) == "adapters" and "." in name:
            other = name.split(".")[1]
            if other != own and not other.startswith("_") and other not in SHARED:
                bad.append((module, name))
        if top(name) in ("reference_impl", "conformance"):
            bad.append((module, name))
    assert bad == []


@pytest.mark.parametrize("forbidden", ["asyncio", "socket", "ssl", "time"])
def test_reference_core_is_pure(forbidden: str) -> None:
    bad = []
    for path in python_files("reference_impl/core"):
        for name in imported_modules(path.read_text(encoding="utf-8"), module_name(path)):
            if top(name) == forbidden:
                bad.append((module_name(path), name))
    assert bad == []


def test_public_api_is_the_curated_list() -> None:
    assert set(meshspec.__all__) == CURATED_API
    assert len(meshspec.__all__) == len(CURATED_API)
    for name in meshspec.__all__:
        assert hasattr(meshspec, name), name

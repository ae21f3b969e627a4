"""Every App Mesh example AWS publishes (aws-app-mesh-examples, controller samples) imports
without a crash: a neutral spec or findings, only App Mesh's own codes (and meshspec's
checks of the spec it produced); jq and envsubst templates are refused naming their
variables."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from adapters.appmesh import adapter
from meshspec.diagnostics import Diagnostic, Severity
from tests.fixtures.realservers import upstream_dir


def examples() -> list[Path]:
    return sorted(p for p in (upstream_dir() / "examples" / "appmesh").rglob("*") if p.is_file())


@cache
def imported(path: Path) -> tuple[bool, tuple[Diagnostic, ...]]:
    docs, problems = adapter.files.read([str(path)])  # type: ignore[union-attr]
    result = adapter.import_resources(docs)
    return result.spec is not None, (*problems, *result.diagnostics)


def test_there_are_examples_in_every_form() -> None:
    suffixes = Counter("".join(p.suffixes[-2:]) for p in examples())
    assert suffixes[".json"] >= 100 and suffixes[".yaml"] >= 30 and suffixes[".yaml.template"]


@pytest.mark.parametrize("path", examples(), ids=lambda p: p.name)
def test_each_example_imports_without_a_crash(path: Path) -> None:
    spec, diagnostics = imported(path)
    foreign = {d.code for d in diagnostics if d.code not in adapter.codes}
    assert {c for c in foreign if int(c[2:]) >= 300} == set()
    assert spec or diagnostics


def test_templates_are_refused_naming_their_variables() -> None:
    templates = [p for p in examples() if re.search(r"(?<![\w\"$])\$[A-Z_]+", p.read_text())]
    assert len(templates) >= 40
    for path in templates:
        _, diagnostics = imported(path)
        refused = [d for d in diagnostics if d.code == "MS3002"]
        assert refused, path
        assert all(d.severity is Severity.ERROR and "$" in d.message for d in refused)


def test_the_cloudformation_examples_become_neutral_specs() -> None:
    templates = [p for p in examples() if "AWS::AppMesh::VirtualNode" in p.read_text()]
    assert len(templates) >= 9
    for path in templates:
        spec, diagnostics = imported(path)
        errors = [d.render() for d in diagnostics if d.severity is Severity.ERROR]
        assert spec and not errors, (path, errors)

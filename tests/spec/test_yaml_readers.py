"""Every YAML reader reads the spec the same: field names and every shipped spec.

YAML 1.1 readers (PyYAML, kubectl and the API server's YAML -> JSON step) turn
plain `on`, `off`, `yes`, `no`, `y`, `n` into booleans; YAML 1.2 readers (ruamel)
keep them as strings. The retry field was once named `on`, so a spec meshspec
accepted failed its own JSON Schema under PyYAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ruamel.yaml import YAML

from conformance.library import builtin_cases
from meshspec.loader import load_texts
from meshspec.schema import document_schema

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS = {
    **{
        f"example {p.parent.name}": p.read_text("utf-8")
        for p in REPO_ROOT.glob("examples/*/mesh.yaml")
    },
    **{f"case file {Path(c.source).stem}": c.spec_text for c in builtin_cases()},
}


def _field_names(schema: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                names.update(value)
            names |= _field_names(value)
    elif isinstance(schema, list):
        for item in schema:
            names |= _field_names(item)
    return names


def test_no_field_name_changes_under_a_yaml_1_1_reader() -> None:
    names = _field_names(document_schema())
    assert {"retryOn", "targetPort", "statusCodes"} <= names
    for name in sorted(names):
        assert list(yaml.safe_load(f"{name}: 1")) == [name], name


@pytest.mark.parametrize("name", sorted(SPECS))
def test_specs_read_the_same_under_yaml_1_1_and_1_2(name: str) -> None:
    text = SPECS[name]
    by_pyyaml = [d for d in yaml.safe_load_all(text) if d is not None]
    by_ruamel = [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]
    assert by_pyyaml == by_ruamel
    validator = jsonschema.Draft202012Validator(document_schema())
    for doc in by_pyyaml:
        assert [e.message for e in validator.iter_errors(doc)] == []


def test_the_old_retry_field_name_says_what_to_write() -> None:
    text = (
        "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {name: a}\nspec:\n"
        "  routes:\n    - name: r\n      retries: {attempts: 1, on: [5xx]}\n"
    )
    [d] = load_texts([("f.yaml", text)]).diagnostics
    assert (d.code, d.line, d.column) == ("MS202", 7, 30)
    assert "'retryOn'" in d.hint and "YAML 1.1" in d.hint

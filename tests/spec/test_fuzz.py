"""Whatever the input, the loader answers with diagnostics: no exception, no hang."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshspec.diagnostics import has_errors
from meshspec.loader import load_texts

VALID = """apiVersion: meshspec.io/v1alpha1
kind: Service
metadata:
  name: svc
spec:
  versions: [{name: v1}, {name: v2}]
  routes:
    - name: r
      matches: [{path: {prefix: /api}, headers: [{name: x, exact: "1"}]}]
      backends: [{version: v1, weight: 90}, {version: v2, weight: 10}]
      timeout: 2s
      retries: {attempts: 2, perTryTimeout: 500ms}
  authorization:
    default: deny
    rules: [{name: a, action: ALLOW, from: [{namespaces: [default]}]}]
"""
LIMIT_SECONDS = 2.0


def _load(text: str) -> Any:
    start = time.monotonic()
    result = load_texts([("fuzz.yaml", text)])
    assert time.monotonic() - start < LIMIT_SECONDS
    for d in result.diagnostics:
        assert d.code.startswith("MS") and d.message
        assert d.file == "fuzz.yaml"
    return result


def test_the_seed_document_is_valid() -> None:
    assert _load(VALID).diagnostics == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_yaml_never_raises(data: st.DataObject) -> None:
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        junk = data.draw(
            st.text(alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@` \t\n\x00ab1")), max_size=5)
        )
        if op == "delete":
            text = text[:at] + text[at + len(junk) + 1 :]
        elif op == "insert":
            text = text[:at] + junk + text[at:]
        else:
            text = text[:at] + junk + text[at + len(junk) :]
    result = _load(text)
    if result.spec is None:
        assert has_errors(result.diagnostics)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
FIELDS = st.sampled_from(
    [
        "name",
        "ports",
        "routes",
        "versions",
        "backends",
        "matches",
        "path",
        "timeout",
        "retries",
        "weight",
        "mtls",
        "authorization",
        "rules",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(FIELDS, JSON_VALUES, max_size=5), st.sampled_from(["Service", "Mesh"]))
def test_random_structures_are_diagnosed(spec: dict[str, Any], kind: str) -> None:
    doc = {
        "apiVersion": "meshspec.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x"},
        "spec": spec,
    }
    result = _load(json.dumps(doc))
    if result.spec is None:
        assert has_errors(result.diagnostics)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(raw: bytes) -> None:
    result = _load(raw.decode("utf-8", errors="replace"))
    assert result.diagnostics or result.spec is not None or raw.strip() == b""


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES)
def test_random_documents_are_rejected_with_a_reason(value: Any) -> None:
    result = _load(json.dumps(value))
    assert result.spec is None
    assert result.diagnostics

"""How spec files are read: YAML 1.2 values, the field decides, positions kept.

A plain `on`, `yes` or `y` is a string in YAML 1.2 and a boolean in YAML 1.1.
meshspec reads YAML 1.2, so a string field keeps the word and a boolean field
reads it as a boolean: either way the spec means what it says, and no string
silently turns into `True`.
"""

from __future__ import annotations

from meshspec.loader import load_texts
from meshspec.yaml_source import load_documents
from tests.spec.yaml_reference import ruamel_positions

HEAD = "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata:\n  name: svc\n"


def _headers(fragment: str) -> list[dict[str, object]]:
    text = (
        HEAD + "spec:\n  routes:\n    - name: r\n      matches: [{headers: [" + fragment + "]}]\n"
    )
    result = load_texts([("f.yaml", text)])
    assert result.ok and result.spec is not None, [d.render() for d in result.diagnostics]
    assert result.diagnostics == []
    [header] = result.spec.service("default/svc").spec.routes[0].matches[0].headers
    return [header.model_dump(exclude_none=True, by_alias=True)]


def test_yaml_1_1_booleans_in_a_string_field_stay_strings() -> None:
    for word in ("on", "yes", "y", "N", "Off"):
        assert _headers(f"{{name: x, exact: {word}}}") == [{"name": "x", "exact": word}]


def test_a_boolean_field_reads_the_word_as_a_boolean() -> None:
    for word in ("true", "yes", "on"):
        assert _headers(f"{{name: x, present: {word}}}") == [{"name": "x", "present": True}]


def test_values_and_positions() -> None:
    [doc] = load_documents("a:\n  - on\n  - 010\n  - 0x1F\n  - 1.5\n  - ~\n  - 'yes'\nb: {c: 1}\n")
    assert doc.data == {"a": ["on", 10, 31, 1.5, None, "yes"], "b": {"c": 1}}
    assert doc.positions[("a", 1)] == (3, 5)
    assert doc.positions[("b", "c")] == (8, 5)
    assert [(a.text, a.kind) for a in doc.ambiguous] == [("on", "string"), ("010", "integer")]


def test_merge_keys_take_what_the_mapping_does_not_say() -> None:
    [doc] = load_documents("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert doc.data["use"] == {"x": 1, "y": 3}
    assert doc.positions[("use", "y")] == (4, 3)
    assert doc.positions[("use", "x")] == (1, 11)


def test_aliases_are_copied_with_their_positions() -> None:
    [doc] = load_documents("a: &a {p: 1}\nb: *a\n")
    assert doc.data == {"a": {"p": 1}, "b": {"p": 1}}
    assert doc.data["a"] is not doc.data["b"]
    assert doc.positions[("b", "p")] == (1, 8)


LAYOUTS = [
    "a: 1\nb:\n  - x\n  - {y: 2}\n---\n# between\nc: {d: [1, 2]}\n",
    "---\n  a: 1\n  b:\n    c: 2\n---\n    x: [1]\n",
    "--- {a: 1, b: [x, y]}\n--- [1, {z: 2}]\n",
    "%YAML 1.2\n---\na: 1\n...\n%YAML 1.2\n---\nb: [2]\n",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!foo 1\nb: [2]\n",
    "a: &x {p: 1}\nb: *x\nc:\n  <<: *x\n  q: 2\n",
    "a: é€\nb: [😀, {c: 1}]\n",
    "a: |\n  text\n  more\nb: 2\n",
]


def test_positions_of_every_layout_are_those_ruamel_yaml_reads() -> None:
    """An independent reader (ruamel.yaml's round-trip loader) as the reference."""
    for text in LAYOUTS:
        if "<<:" in text:  # ruamel.yaml keeps no position for merged keys
            continue
        ours = [{p: at for p, at in doc.positions.items() if p} for doc in load_documents(text)]
        assert ours == ruamel_positions(text), text

"""Positions of findings: found by path in a document's nodes, where ruamel.yaml reads them.

A finding's file:line:column comes from composing its document again and
walking only the asked path, without converting a value. These tests hold the
positions to an independent reader (`yaml_reference`), and count the work:
one composition per document asked about, no conversion.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import meshspec.yaml_nodes
import meshspec.yaml_source
from bench.compile.mesh import write_mesh
from meshspec.api import compile as compile_spec
from meshspec.diagnostics import Diagnostic
from meshspec.loader import load_texts
from meshspec.registry import available_targets
from meshspec.yaml_positions import KEPT_DOCUMENTS
from meshspec.yaml_source import load_documents
from tests.spec.yaml_reference import Positions, ruamel_positions

DEMANDING = Path(__file__).parent.parent / "adapters" / "demanding.yaml"


def _path(dotted: str) -> tuple[str | int, ...]:
    """`spec.routes[0].timeout` -> `("spec", "routes", 0, "timeout")`."""
    return tuple(
        part if part is not None else int(index)
        for part, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", dotted)
    )


def _document_of(documents: list[Positions], line: int) -> Positions:
    """The document whose keys span `line` (its first key's line is its root's)."""
    for positions in documents:
        lines = [at[0] for at in positions.values()]
        if lines and min(lines) <= line <= max(lines):
            return positions
    raise AssertionError(f"no document holds line {line}")


def _expected(documents: list[Positions], finding: Diagnostic) -> set[tuple[int, int]]:
    """Where the finding's path, or a path below it, is written.

    A finding may point below the path it names (at the status code of
    `retries.statusCodes`); where the path is not written, at its longest
    written prefix; where none is, at the start of its document.
    """
    positions = _document_of(documents, finding.line)
    probe = _path(finding.path)
    while probe and probe not in positions:
        probe = probe[:-1]
    if probe:
        size = len(probe)
        return {at for path, at in positions.items() if path[:size] == probe}
    return {(min(at[0] for at in positions.values()), 1)}


@pytest.fixture(scope="module")
def spec_texts(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """The benchmark's generated mesh (small namespaces) and the demanding spec."""
    directory = tmp_path_factory.mktemp("mesh")
    files = write_mesh(directory, 12, per_file=12, per_namespace=5)
    return [(str(f), f.read_text()) for f in files] + [(str(DEMANDING), DEMANDING.read_text())]


@pytest.mark.parametrize("target", available_targets())
def test_every_finding_is_where_an_independent_reader_puts_its_path(
    target: str, spec_texts: list[tuple[str, str]]
) -> None:
    result = load_texts(spec_texts)
    assert result.spec is not None, [d.render() for d in result.diagnostics]
    reference = {name: ruamel_positions(text) for name, text in spec_texts}
    compiled = compile_spec(result.spec, target, allow_lossy=["all"])
    located = [d for d in compiled.diagnostics if d.location and d.file in reference]
    assert len(located) >= 10, f"{target}: too few findings to check positions with"
    deep = 0
    for finding in located:
        assert (finding.line, finding.column) in _expected(reference[finding.file], finding), (
            finding.render()
        )
        deep += finding.column > 1
    assert deep, f"{target}: no finding below a document's first column"


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of documents composed and values converted from now on."""
    counts = {"composed": 0, "converted": 0}
    compose, convert = meshspec.yaml_source._nodes, meshspec.yaml_nodes.Converter.value

    def composing(text: str, *reader: Any) -> Any:
        for node in compose(text, *reader):
            counts["composed"] += 1
            yield node

    def converting(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["converted"] += 1
        return convert(self, *args, **kwargs)

    monkeypatch.setattr(meshspec.yaml_source, "_nodes", composing)
    monkeypatch.setattr(meshspec.yaml_nodes.Converter, "value", converting)
    return counts


def test_a_documents_positions_are_found_by_composing_it_once_and_converting_nothing(
    monkeypatch: pytest.MonkeyPatch, spec_texts: list[tuple[str, str]]
) -> None:
    _, text = spec_texts[0]
    documents = load_documents(text)
    expected = ruamel_positions(text)
    counts = _counting(monkeypatch)
    service = documents[3].positions
    asked = [p for p in expected[3] if len(p) >= 3][:40]
    assert len(asked) == 40
    for path in asked:
        assert path in service
        assert service[path] == expected[3][path]
    assert ("spec", "no such field") not in service
    assert service.get(("spec", "ports", 99)) is None
    assert counts == {"composed": 1, "converted": 0}


def test_only_the_last_documents_asked_about_keep_their_nodes(
    monkeypatch: pytest.MonkeyPatch, spec_texts: list[tuple[str, str]]
) -> None:
    _, text = spec_texts[0]
    documents = load_documents(text)
    assert len(documents) > KEPT_DOCUMENTS + 2
    counts = _counting(monkeypatch)
    path = ("metadata", "name")
    for doc in documents[1:]:
        assert path in doc.positions
    assert counts["composed"] == len(documents) - 1
    documents[-1].positions.get(("spec",))  # the latest: still kept
    assert counts["composed"] == len(documents) - 1
    documents[1].positions.get(("spec",))  # long ago: composed again
    assert counts["composed"] == len(documents)
    assert counts["converted"] == 0


MERGES = [
    # (text, path, position): the keys a merge lends are where the merged mapping writes them
    ("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", ("use", "x"), (1, 11)),
    ("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", ("use", "y"), (4, 3)),
    ("a: &a {p: 1}\nb: &b {p: 2, q: 3}\nc:\n  <<: [*a, *b]\n", ("c", "p"), (1, 8)),
    ("a: &a {p: 1}\nb: &b {p: 2, q: 3}\nc:\n  <<: [*a, *b]\n", ("c", "q"), (2, 14)),
    ("a: &a {p: 1}\nb: &b {<<: *a, q: 3}\nc: {<<: *b}\n", ("c", "p"), (1, 8)),
    ("a: &a {p: {deep: [1, 2]}}\nc:\n  <<: *a\n", ("c", "p", "deep", 1), (1, 22)),
    ("a: &a {p: 1}\nc:\n  <<: *a\n", ("c", "<<"), None),
    ("a: &a {1: x}\nc: {<<: *a}\n", ("c", 1), (1, 8)),
    ("a: &a {1: x}\nc: {<<: *a}\n", ("c", "1"), None),
    ("a: {'1': x, 2: y}\n", ("a", "1"), (1, 5)),
    ("a: {'1': x, 2: y}\n", ("a", 2), (1, 13)),
    ("a: [x, y]\n", ("a", 2), None),
    ("a: [x, y]\n", ("a", -1), None),
    ("a: x\n", ("a", "b"), None),
]


@pytest.mark.parametrize(("text", "path", "position"), MERGES)
def test_positions_of_merges_and_keys(
    text: str, path: tuple[str | int, ...], position: tuple[int, int] | None
) -> None:
    [doc] = load_documents(text)
    assert doc.positions.get(path) == position
    assert dict(doc.positions).get(path) == position  # every position at once agrees


_scalars = st.one_of(
    st.integers(-5, 5000),
    st.text(alphabet="abz -:#'\"", min_size=0, max_size=6),
    st.booleans(),
    st.none(),
)
_keys = st.one_of(st.from_regex(r"[a-c][a-c_-]{0,3}", fullmatch=True), st.integers(0, 99))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_keys, inner, min_size=1, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.dictionaries(_keys, _values, min_size=1, max_size=4), min_size=1, max_size=3),
    st.sampled_from([False, None, True]),
    st.integers(1, 4),
)
def test_every_position_of_any_document_is_where_ruamel_reads_it(
    documents: list[dict[Any, Any]], flow: bool | None, indent: int
) -> None:
    text = yaml.safe_dump_all(
        documents, default_flow_style=flow, indent=indent + 1, explicit_start=True
    )
    ours = [{p: at for p, at in doc.positions.items() if p} for doc in load_documents(text)]
    assert ours == ruamel_positions(text)
    for positions, doc in zip(ours, load_documents(text), strict=True):
        for path, at in positions.items():  # one path asked at a time agrees
            assert doc.positions.get(path) == at

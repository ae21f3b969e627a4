"""Every loader and validation finding: exact code, line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshspec.loader import load_texts

HEAD = "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata:\n  name: svc\n"


def _found(text: str) -> list[tuple[str, int, int]]:
    result = load_texts([("f.yaml", text)])
    return [(d.code, d.line, d.column) for d in result.diagnostics]


CASES = [
    ("empty file", "", [("MS103", 1, 1)]),
    ("only comments", "# nothing here\n", [("MS103", 1, 1)]),
    ("not YAML", "a: [1, 2\n", [("MS102", 2, 1)]),
    ("binary junk", "\x00\x01\x02", [("MS102", 1, 1)]),
    ("a scalar", "hello\n", [("MS104", 1, 1)]),
    ("a list", "- a\n- b\n", [("MS104", 1, 1)]),
    ("another kind", "apiVersion: v1\nkind: ConfigMap\n", [("MS105", 1, 1), ("MS103", 1, 1)]),
    ("unknown kind", "apiVersion: meshspec.io/v1alpha1\nkind: Servce\n", [("MS106", 2, 1)]),
    ("future apiVersion", "apiVersion: meshspec.io/v9\nkind: Service\n", [("MS201", 1, 1)]),
    ("missing apiVersion", "kind: Service\nmetadata: {name: a}\n", [("MS201", 1, 1)]),
    ("duplicate key", HEAD + "  name: again\n", [("MS108", 5, 3)]),
    ("unknown field", HEAD + "spec:\n  portz: []\n", [("MS202", 6, 3)]),
    (
        "missing name",
        "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {}\n",
        [("MS201", 3, 1)],
    ),
    ("bad port", HEAD + "spec:\n  ports:\n    - port: 70000\n", [("MS201", 7, 7)]),
    (
        "bad duration",
        HEAD + "spec:\n  routes:\n    - name: r\n      timeout: 25h\n",
        [("MS208", 8, 7)],
    ),
    (
        "duration without unit",
        HEAD + "spec:\n  routes:\n    - name: r\n      timeout: 5\n",
        [("MS208", 8, 7)],
    ),
    (
        "too short duration",
        HEAD + "spec:\n  routes:\n    - name: r\n"
        "      retries: {attempts: 1, perTryTimeout: 0.1ms}\n",
        [("MS208", 8, 30)],
    ),
    (
        "dangling service",
        HEAD + "spec:\n  routes:\n    - name: r\n      backends:\n        - service: nope\n",
        [("MS204", 9, 11)],
    ),
    (
        "dangling version",
        HEAD + "spec:\n  versions: [{name: v1}]\n  routes:\n    - name: r\n"
        "      backends:\n        - version: v2\n",
        [("MS205", 10, 11)],
    ),
    (
        "duplicate version",
        HEAD + "spec:\n  versions:\n    - name: v1\n    - name: v1\n",
        [("MS203", 8, 7)],
    ),
    (
        "duplicate route",
        HEAD + "spec:\n  routes:\n    - name: r\n    - name: r\n      matches: [{method: GET}]\n",
        [("MS203", 8, 7)],
    ),
    (
        "weights all zero",
        HEAD + "spec:\n  versions: [{name: v1}, {name: v2}]\n  routes:\n"
        "    - name: r\n      backends:\n        - {version: v1, weight: 0}\n"
        "        - {version: v2, weight: 0}\n",
        [("MS206", 9, 7)],
    ),
    (
        "look-ahead regex",
        HEAD + "spec:\n  routes:\n    - name: r\n      matches:\n"
        "        - path: {regex: '/a(?=b)'}\n",
        [("MS207", 9, 18)],
    ),
    (
        "back-reference",
        HEAD + "spec:\n  routes:\n    - name: r\n      matches:\n"
        "        - headers: [{name: x, regex: '(a)\\1'}]\n",
        [("MS207", 9, 31)],
    ),
    (
        "unclean path",
        HEAD + "spec:\n  routes:\n    - name: r\n      matches:\n"
        "        - path: {prefix: '/a//b'}\n",
        [("MS212", 9, 18)],
    ),
    (
        "identical matches",
        HEAD + "spec:\n  routes:\n    - name: a\n      matches: [{method: GET}]\n"
        "    - name: b\n      matches:\n        - method: GET\n",
        [("MS209", 11, 11)],
    ),
    (
        "headers in another order",
        HEAD + "spec:\n  routes:\n    - name: a\n      matches:\n"
        "        - headers: [{name: x, present: true}, {name: y, exact: '1'}]\n"
        "    - name: b\n      matches:\n"
        "        - headers: [{name: y, exact: '1'}, {name: x, exact: q}]\n",
        [("MS209", 12, 11)],
    ),
    (
        "second catch-all",
        HEAD + "spec:\n  routes:\n    - name: a\n    - name: b\n",
        [("MS209", 8, 7)],
    ),
    (
        "retry longer than default timeout",
        HEAD + "spec:\n  routes:\n    - name: r\n"
        "      retries:\n        attempts: 2\n        perTryTimeout: 20s\n",
        [("MS211", 10, 9)],
    ),
    (
        "mtls port that does not exist",
        HEAD + "spec:\n  mtls:\n    ports:\n      81: STRICT\n",
        [("MS215", 8, 7)],
    ),
    (
        "bad target port",
        HEAD + "spec:\n  ports:\n    - {port: 80, targetPort: 0}\n",
        [("MS201", 7, 18)],
    ),
    (
        "two ports on one target port, same protocol",
        HEAD + "spec:\n  ports:\n    - {port: 80, targetPort: 8080}\n    - {port: 8080}\n",
        [],
    ),
    (
        "two ports on one target port, protocols differ",
        HEAD + "spec:\n  ports:\n    - {port: 80, targetPort: 8080}\n"
        "    - {port: 81, targetPort: 8080, protocol: tcp}\n",
        [("MS217", 8, 18)],
    ),
    (
        "a port lands on another port's number, protocols differ",
        HEAD + "spec:\n  ports:\n    - {port: 80, targetPort: 8080}\n"
        "    - {port: 8080, protocol: tcp}\n",
        [("MS217", 8, 8)],
    ),
    (
        "two ports on one target port, mTLS modes differ",
        HEAD + "spec:\n  ports:\n    - {port: 80, targetPort: 8080}\n"
        "    - {port: 81, targetPort: 8080}\n  mtls:\n    ports: {81: PERMISSIVE}\n",
        [("MS217", 8, 18)],
    ),
    (
        "dangling authz source",
        HEAD + "spec:\n  authorization:\n    rules:\n      - name: r\n"
        "        action: ALLOW\n        from:\n          - services: [ghost]\n",
        [("MS204", 11, 13)],
    ),
    (
        "second mesh",
        "apiVersion: meshspec.io/v1alpha1\nkind: Mesh\nmetadata: {name: a}\n---\n"
        "apiVersion: meshspec.io/v1alpha1\nkind: Mesh\nmetadata: {name: b}\n",
        [("MS210", 5, 1)],
    ),
    (
        "alias bomb",
        "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
            for i in range(6)
        ),
        [("MS107", 6, 1)],
    ),
    ("deep flow nesting", "a: " + "[" * 1000 + "]" * 1000 + "\n", [("MS107", 1, 4)]),
    ("5,000-deep flow nesting", "a: " + "[" * 5000 + "]" * 5000 + "\n", [("MS107", 1, 4)]),
    (
        "5,000-deep block nesting",
        "".join("  " * i + f"k{i}:\n" for i in range(5000)) + "  " * 5000 + "x\n",
        [("MS107", 2, 3)],
    ),
    ("5,000 nested block lists on one line", "- " * 5000 + "x\n", [("MS107", 1, 3)]),
    ("65 levels", "a: " + "[" * 65 + "]" * 65 + "\n", [("MS107", 1, 4)]),
    (
        "64 levels are fine (not ours, though)",
        "a: " + "[" * 63 + "]" * 63 + "\n",
        [("MS105", 1, 1), ("MS103", 1, 1)],
    ),
    ("every byte", bytes(range(256)).decode("latin-1"), [("MS102", 1, 1)]),
    ("tab as indentation", HEAD + "spec:\n\tports: []\n", [("MS102", 6, 1)]),
    ("tab after a dash", HEAD + "spec:\n  ports:\n  -\tport: 80\n", [("MS102", 7, 4)]),
    ("alias of itself", "a: &a [*a]\n", [("MS102", 1, 4)]),
    ("undefined alias", HEAD + "spec: *nope\n", [("MS102", 5, 7)]),
    ("anchor defined twice", "a: &x 1\nb: &x 2\n", [("MS102", 2, 4)]),
    ("mapping as a key", HEAD + "spec:\n  ? {a: 1}\n  : 1\n", [("MS102", 6, 5)]),
    (
        "number read differently by YAML 1.1",
        HEAD + "spec:\n  ports:\n    - port: 010\n",
        [("MS109", 7, 13)],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_finding_and_position(name: str, text: str, expected: list[tuple[str, int, int]]) -> None:
    assert _found(text) == expected


def test_duplicate_service_points_at_the_second() -> None:
    result = load_texts([("a.yaml", HEAD), ("b.yaml", "\n\n" + HEAD)])
    [d] = result.diagnostics
    assert (d.code, d.file, d.line, d.column) == ("MS203", "b.yaml", 6, 3)
    assert "a.yaml:1:1" in d.message


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "spec:\n  portz: []\n  routes:\n    - name: r\n      backends: [{service: no}]\n",
        "a: [1\n",
        HEAD + "  name: twice\n",
        "a: " + "[" * 100,
        "",
        "- 1\n",
        "kind: Service\n",
    ],
)
def test_messages_say_what_and_why_and_give_a_hint(text: str) -> None:
    for d in load_texts([("f.yaml", text)]).diagnostics:
        what, sep, why = d.message.partition(": ")
        assert sep and what and why, d.message
        assert d.hint, d.message


def test_unknown_fields_suggest_the_closest() -> None:
    [d] = load_texts([("f.yaml", HEAD + "spec:\n  portz: []\n")]).diagnostics
    assert d.hint == "did you mean 'ports'?"


def test_an_unreachable_specific_match_is_not_reported_when_it_can_win() -> None:
    text = HEAD + (
        "spec:\n  routes:\n    - name: a\n      matches: [{headers: [{name: x, prefix: ab}]}]\n"
        "    - name: b\n      matches: [{headers: [{name: x, exact: zz}]}]\n"
        "    - name: c\n      matches: [{path: {prefix: /a}}, {path: {prefix: /a/b}}]\n"
    )
    assert _found(text) == []


def test_the_examples_are_clean() -> None:
    from pathlib import Path

    from meshspec.loader import load_paths

    root = Path(__file__).resolve().parents[2] / "examples"
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    assert {p.name for p in folders} >= {"bookinfo", "canary", "zero-trust"}
    for folder in folders:
        result = load_paths([str(folder / "mesh.yaml")])
        assert result.ok and result.diagnostics == [], folder


def test_unreadable_files(tmp_path: Any) -> None:
    from meshspec.loader import load_paths

    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    [d] = load_paths([str(latin)]).diagnostics
    assert (d.code, d.message) == ("MS101", "cannot read: not UTF-8 text (byte 9)")
    assert (Path(d.file).name, d.line, d.column) == ("latin.yaml", 1, 10)


def test_size_alone_is_no_reason_to_refuse_a_file(tmp_path: Any) -> None:
    """kubectl reads files of any size; the work is bounded by aliases and depth instead."""
    from meshspec.loader import load_paths

    big = tmp_path / "big.yaml"
    padding = ("# " + "x" * 1000 + "\n") * 6000  # 6 MB, above the old 4 MiB refusal
    big.write_text(padding + HEAD + "spec:\n  ports: [{port: 80}]\n" + padding)
    result = load_paths([str(big)])
    assert result.ok and result.diagnostics == []
    assert result.spec is not None and list(result.spec.services) == ["default/svc"]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7])
def test_findings_printed_in_pieces_read_as_one_text(count: int) -> None:
    """The CLI prints findings a piece at a time; together they are `render_text`'s text."""
    from meshspec.codes import SCHEMA
    from meshspec.diagnostics import Location, render_text, text_chunks

    findings = [
        SCHEMA(f"finding {i}", location=Location("f.yaml", 10 - i, 1), hint="h" * (i % 2))
        for i in range(count)
    ]
    pieces = list(text_chunks(findings, size=3))
    assert len(pieces) == -(-count // 3)
    assert all(piece.endswith("\n") for piece in pieces)
    assert "".join(pieces) == (render_text(findings) + "\n" if findings else "")

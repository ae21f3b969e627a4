"""Header values as the oracle reads them: padding is not the value, repeated lines join
with ',', a DENY condition holds on any element, and an ALLOW is never widened."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshspec.loader import load_texts
from meshspec.semantics import Request, decide
from meshspec.semantics.headers import header_values

SPEC = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: vault}
spec:
  authorization:
    default: allow
    rules:
      - {name: no-debug, action: DENY, to: {headers: [{name: x-debug, exact: "1"}]}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: gate}
spec:
  authorization:
    default: deny
    rules:
      - {name: admins, action: ALLOW, to: {headers: [{name: x-role, exact: admin}]}}
"""
spec = load_texts([("spec.yaml", SPEC)]).spec
assert spec is not None


def status(to: str, headers: dict[str, str | list[str]] | dict[str, str]) -> int | None:
    return decide(spec, Request(to, "/", headers=headers, source="client")).status


@pytest.mark.parametrize(
    "value",
    ["1", "1 ", "1\t", " 1", "\t1 \t", ["1", "1"], ["0", "1"], "0,1", "0, 1", "1,0", ["1 ", "x"]],
)
def test_a_deny_is_never_dodged(value: str | list[str]) -> None:
    assert status("vault", {"x-debug": value}) == 403


@pytest.mark.parametrize("value", ["0", "10", "01", "1x", ["0", "2"], "0,11", "x 1"])
def test_a_deny_matches_only_its_value(value: str | list[str]) -> None:
    assert status("vault", {"x-debug": value}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("admin", None), (" admin\t", None), (["admin", "guest"], 403), (["admin", "admin"], 403),
     ("admin,guest", 403), ("guest, admin", 403)],
)  # fmt: skip
def test_an_allow_is_never_widened(value: str | list[str], expected: int | None) -> None:
    assert status("gate", {"x-role": value}) == expected


def test_lines_join_in_order_across_name_case() -> None:
    assert header_values({"X-A": [" 1", "2 "], "x-a": "3", "b": "\t"}) == {"x-a": "1,2,3", "b": ""}


padding = st.text(" \t", max_size=3)
word = st.text("0123ab", min_size=1, max_size=3)


@given(st.lists(st.tuples(padding, word, padding), min_size=1, max_size=5), st.integers(0, 4))
def test_any_line_equal_to_the_denied_value_denies(
    lines: list[tuple[str, str, str]], at: int
) -> None:
    sent = [f"{a}{w}{b}" for a, w, b in lines]
    sent.insert(at % (len(sent) + 1), " 1 ")
    assert status("vault", {"x-debug": sent}) == 403


@given(st.lists(st.sampled_from(["admin", " admin ", "guest", ""]), min_size=2, max_size=5))
def test_several_lines_never_satisfy_a_single_value_allow(lines: list[str]) -> None:
    assert status("gate", {"x-role": lines}) == 403

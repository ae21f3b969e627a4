"""`indented_json` writes what `json.dumps(value, indent=2)` writes, for any JSON-like value."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshspec.json_text import indented_json

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.tuples(children, children)
    | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=40,
)


@settings(max_examples=500)
@given(values)
def test_the_same_text_as_the_standard_library(value: Any) -> None:
    assert indented_json(value) == json.dumps(value, indent=2)


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {1: "a", "b": [None]},  # a key that is not a string: written as json writes it
        {"level": Level.HIGH, "name": Name("x"), Name("k"): 1.5},
        {"nested": [[[]], {}, [{}]], "text": "é\u2028\x00\"\\"},
    ],
)
def test_unusual_values_are_written_as_the_standard_library_writes_them(value: Any) -> None:
    assert indented_json(value) == json.dumps(value, indent=2)


def test_what_json_refuses_is_refused_the_same_way() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        indented_json({"a": cycle})
    with pytest.raises(TypeError, match="not JSON serializable"):
        indented_json({"a": object()})

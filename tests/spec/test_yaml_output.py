"""Every YAML meshspec writes reads back as the same data under YAML 1.1 and 1.2.

kubectl and the API server read YAML 1.1, where a plain `yes`, `on` or `n` is a
boolean, `010` is 8 and `12:30` is 750; YAML 1.2 readers see strings (or 10).
So the writer quotes every string that any of them would read as something
else. Each output is read back by PyYAML (YAML 1.1), ruamel.yaml (YAML 1.2) and
meshspec's own loader, and must equal what was written.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from meshspec.api import compile as compile_spec
from meshspec.codecs import dump_yaml
from meshspec.loader import load_paths
from meshspec.registry import available_targets
from meshspec.yaml_source import load_documents

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/mesh.yaml"))

#: plain scalars some YAML reader takes for something other than a string
SPECIALS = [
    # YAML 1.1 resolves these as int and then cannot read them (PyYAML raises).
    "0b_",
    "0x_",
    "-0b_",
    *[
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
    ],
    *["true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~"],
    *[
        "0",
        "010",
        "0o17",
        "0x1F",
        "0b101",
        "1_000",
        "+1",
        "-1",
        "1e3",
        "1E3",
        "1.5",
        ".5",
        "1.",
        "6.0e+2",
        ".inf",
        "-.Inf",
        ".nan",
        ".NaN",
    ],
    *["12:30", "1:20:30", "190:20:30.15", "2001-12-14", "2001-12-14t21:59:43.10-05:00"],
    "2001-12-14 21:59:43.10 -5",
    *["-_", "._", "0o1_7", "1__0"],  # numbers to ruamel.yaml, strings to the specifications
    *["=", "<<", "-", "?", ":", "#", "&", "*", "!", "|", ">", "'", '"', "%", "@", "`"],
    "",
    " padded ",
    "a: b",
    "a #b",
    "line\nbreak",
    "tab\there",
    "ünïcode",
]


def readers(text: str) -> dict[str, list[Any]]:
    """The documents of `text` as each reader sees them."""
    return {
        "PyYAML (YAML 1.1)": [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader)],
        "PyYAML pure Python (YAML 1.1)": [d for d in yaml.load_all(text, Loader=yaml.SafeLoader)],
        "ruamel.yaml (YAML 1.2)": [
            _plain(d) for d in YAML(typ="safe", pure=True).load_all(io.StringIO(text))
        ],
        "meshspec": [d.data for d in load_documents(text)],
    }


def _plain(value: Any) -> Any:
    """ruamel's scalar subclasses as plain Python values, for comparison."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def assert_read_back_the_same(documents: list[Any]) -> None:
    text = dump_yaml(documents)
    expected = json.loads(json.dumps(documents))
    for reader, got in readers(text).items():
        assert got == expected, f"{reader} reads something else from:\n{text}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("target", available_targets())
def test_compiled_examples_read_the_same_everywhere(example: Path, target: str) -> None:
    loaded = load_paths([str(example)])
    assert loaded.ok and loaded.spec is not None
    resources = compile_spec(loaded.spec, target, ["all"]).resources
    assert resources
    assert_read_back_the_same(resources)


def test_every_special_is_quoted_and_read_back() -> None:
    text = dump_yaml([{"values": SPECIALS, "keys": {s: s for s in SPECIALS}}])
    for special in ("yes", "on", "n", "~", "1e3", "0o17", "12:30", "010", "2001-12-14"):
        assert f"- '{special}'\n" in text, special
    assert_read_back_the_same([{"values": SPECIALS, "keys": {s: s for s in SPECIALS}}])


def test_numbers_booleans_and_null_stay_plain() -> None:
    text = dump_yaml([{"port": 8080, "weight": 0, "ratio": 0.25, "on": True, "off": None}])
    assert text == "---\nport: 8080\nweight: 0\nratio: 0.25\n'on': true\n'off': null\n"


def test_shared_objects_are_written_out_in_full() -> None:
    shared = {"name": "x"}
    text = dump_yaml([{"a": shared, "b": shared}])
    assert "&" not in text and "*" not in text
    assert_read_back_the_same([{"a": shared, "b": shared}])


_scalars = st.one_of(
    st.sampled_from(SPECIALS),
    st.text(max_size=12),
    st.text(alphabet="0123456789:._-+eEoxbyYnN~", max_size=8),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False).filter(math.isfinite),
    st.booleans(),
    st.none(),
)
_keys = st.one_of(st.sampled_from(SPECIALS), st.text(max_size=10))
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_keys, _values, max_size=5), min_size=1, max_size=3))
def test_any_documents_read_the_same_everywhere(documents: list[dict[str, Any]]) -> None:
    assert_read_back_the_same(documents)

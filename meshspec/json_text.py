"""JSON text exactly as `json.dumps(value, indent=2)` writes it, at a fraction of its cost.

With `indent` set, the standard library leaves its C encoder for a pure-Python
one that passes every piece of text up a chain of generators, one per level
of nesting: writing the Consul config entries of 50,000 services took most of
the compile. Here one recursive pass appends pieces to one list, and strings
go through the C function that the standard encoder uses for them. Anything
unusual (keys that are not strings, values JSON has no text for, a cycle) is
left to `json.dumps`, so the text and the errors stay the standard library's.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_INFINITY = float("inf")


class _Unusual(Exception):
    """A value `json.dumps` must write (or refuse) itself."""


def indented_json(value: Any) -> str:
    """`json.dumps(value, indent=2)`: the same text, or the same exception."""
    pieces: list[str] = []
    try:
        _write(value, "\n", pieces)
    except (_Unusual, RecursionError):
        return json.dumps(value, indent=2)
    return "".join(pieces)


def _write(value: Any, newline: str, pieces: list[str]) -> None:
    """Append `value`'s text; `newline` is a line break and the current indentation."""
    if type(value) is str:
        pieces.append(encode_basestring_ascii(value))
    elif isinstance(value, dict):
        if not value:
            pieces.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            pieces.append(separator)
            pieces.append(encode_basestring_ascii(key))
            pieces.append(": ")
            _write(item, inner, pieces)
            separator = "," + inner
        pieces.append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            pieces.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            pieces.append(separator)
            _write(item, inner, pieces)
            separator = "," + inner
        pieces.append(newline + "]")
    else:
        pieces.append(_scalar(value))


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, str):  # a str subclass: the standard encoder takes it as a str
        return encode_basestring_ascii(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return float.__repr__(value)
    raise _Unusual

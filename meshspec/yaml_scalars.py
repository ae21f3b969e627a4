"""How a plain YAML scalar reads: YAML 1.2's core schema, compared with YAML 1.1.

meshspec reads YAML 1.2 (as ruamel.yaml and go-yaml v3 do). kubectl, the
Kubernetes API server and PyYAML read YAML 1.1, where `on`, `yes` and `n` are
booleans, `010` is 8, `12:30` is 750 and `2001-12-14` a timestamp, while `0o17`
and `1e3` stay strings. `plain_tag` answers both questions at once for the
loader (which warns where they differ) and for the writer (which quotes every
string that either would read as something else).

Sources: https://yaml.org/spec/1.2.2/#1032-tag-resolution (core schema),
https://yaml.org/type/bool.html, int.html, float.html, null.html,
timestamp.html, merge.html, value.html (YAML 1.1 types).
"""

from __future__ import annotations

import math
import re
from typing import Any

# Tags `plain_tag` gives. Ambiguous scalars get "?" + the YAML
# 1.2 tag + "|" + what YAML 1.1 reads.
STR, INT, FLOAT, BOOL, NULL, MERGE = "str", "int", "float", "bool", "null", "merge"
NAMES = {STR: "string", INT: "integer", FLOAT: "number", BOOL: "boolean", NULL: "null"}
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")
WORDS: dict[str, str] = {w: BOOL for w in (*_TRUE, *_FALSE)}
WORDS.update({w: NULL for w in ("", "~", "null", "Null", "NULL")})
for _w in ("y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO"):
    WORDS[_w] = "?str|a boolean"
for _w in ("on", "On", "ON", "off", "Off", "OFF"):
    WORDS[_w] = "?str|a boolean"
WORDS["="] = "?str|the 'value' type"
WORDS["<<"] = MERGE
NUMERIC_START = frozenset("0123456789+-.")

_INT12 = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT12 = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
# YAML 1.1 (https://yaml.org/type/int.html, float.html, timestamp.html)
_INT11 = re.compile(
    r"[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
)
_FLOAT11 = re.compile(
    r"[-+]?(?:[0-9][0-9_]*)?\.[0-9.]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_TIMESTAMP11 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
)

# What widely used readers take for numbers beyond the specifications (ruamel.yaml
# reads `1_000`, `-_` and `._` as numbers in YAML 1.2 too): written quoted.
_LOOSE_INT = re.compile(r"[-+]?0b[01_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+")
_LOOSE_FLOAT = re.compile(
    r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?"
)


def _int11(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    digits = digits.lstrip("+-")
    if ":" in digits:
        value = 0
        for part in digits.split(":"):
            value = value * 60 + int(part)
        return sign * value
    if digits.startswith("0b"):
        return sign * int(digits[2:], 2)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if digits != "0" and digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


def _float11(text: str) -> float | None:
    digits = text.replace("_", "").lower()
    sign = -1.0 if digits.startswith("-") else 1.0
    digits = digits.lstrip("+-")
    if digits == ".inf":
        return sign * math.inf
    if digits == ".nan":
        return math.nan
    if ":" in digits:
        value = 0.0
        for part in digits.split(":"):
            value = value * 60 + float(part)
        return sign * value
    try:
        return sign * float(digits)
    except ValueError:  # "1.2.3" fits YAML 1.1's loose pattern but is no number
        return None


def int12(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def float12(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a == b or (a != a and b != b))


def numeric_tag(text: str) -> str:
    """The tag of a plain scalar that starts like a number, both readings compared."""
    value12: Any
    if _INT12.fullmatch(text):
        kind12, value12 = INT, int12(text)
    elif _FLOAT12.fullmatch(text):
        kind12, value12 = FLOAT, float12(text)
    else:
        kind12, value12 = STR, text
    value11: Any = text
    kind11 = STR
    if _INT11.fullmatch(text):
        try:
            kind11, value11 = INT, _int11(text)
        except ValueError:
            # `0b_`, `0x_`: YAML 1.1 resolves them as int and then cannot read them
            # (PyYAML raises), so they must be quoted like any other number.
            kind11, value11 = INT, None
    elif _FLOAT11.fullmatch(text):
        number = _float11(text)
        if number is not None:
            kind11, value11 = FLOAT, number
    elif _TIMESTAMP11.fullmatch(text):
        kind11, value11 = "timestamp", None
    if kind11 == kind12 and _same(value11, value12):
        if kind12 == STR and (_LOOSE_INT.fullmatch(text) or _LOOSE_FLOAT.fullmatch(text)):
            return "?str|a number for some readers"
        return kind12
    read11 = "a timestamp" if kind11 == "timestamp" else f"the {NAMES[kind11]} {value11!r}"
    return f"?{kind12}|{read11}"


def plain_tag(text: str) -> str:
    """The tag of a plain (unquoted) scalar."""
    word = WORDS.get(text)
    if word is not None:
        return word
    if text[0] in NUMERIC_START:
        if text.isascii() and text.isdigit() and (text[0] != "0" or len(text) == 1):
            return INT  # the common case: both read the same decimal integer
        return numeric_tag(text)
    return STR


_STANDARD_TAGS = {
    "tag:yaml.org,2002:str": STR,
    "tag:yaml.org,2002:int": INT,
    "tag:yaml.org,2002:float": FLOAT,
    "tag:yaml.org,2002:bool": BOOL,
    "tag:yaml.org,2002:null": NULL,
}


class BadScalar(Exception):
    """An explicitly tagged scalar that is not what its tag says (`!!int abc`)."""


def scalar_value(tag: str, text: str) -> Any:
    """The Python value of a scalar with this tag (ours, or an explicit `!!int` and so on)."""
    if tag == STR:
        return text
    if tag == INT:
        return int12(text)
    if tag == BOOL:
        return text in _TRUE
    if tag == NULL:
        return None
    if tag == FLOAT:
        return float12(text)
    if tag == MERGE:
        return text
    explicit = _STANDARD_TAGS.get(tag)
    if explicit is None or explicit == STR:
        return text  # other tags (!!binary, !custom): the text as written
    try:
        if explicit == INT:
            return int(text.replace("_", ""), 0)
        if explicit == FLOAT:
            return float12(text.replace("_", ""))
    except ValueError:
        raise BadScalar(f"{tag} value {text!r} is not a number") from None
    if explicit == BOOL:
        return text.lower() in ("true", "yes", "on", "y")
    return None

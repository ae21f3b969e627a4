"""Regexes in the RE2-compatible subset, matched against whole values.

Every target mesh hands regexes to an RE2-style engine (Envoy safe_regex,
Rust regex), which has no look-around and no back-references. The oracle
uses Python's `re` only on patterns that passed `check_regex`.
"""

from __future__ import annotations

import re
from functools import lru_cache

_FORBIDDEN = (
    (re.compile(r"\(\?<?[=!]"), "look-around assertions"),
    (re.compile(r"\(\?>"), "atomic groups"),
    (re.compile(r"\(\?\("), "conditional groups"),
    (re.compile(r"\(\?P="), "named back-references"),
    (re.compile(r"\\k<"), "named back-references"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]"), "back-references"),
    (re.compile(r"[*+?}]\+"), "possessive quantifiers"),
)
MAX_PATTERN = 1024


def check_regex(pattern: str) -> str | None:
    """Why `pattern` is not acceptable, or None when it is."""
    if len(pattern) > MAX_PATTERN:
        return f"longer than {MAX_PATTERN} characters"
    for rx, what in _FORBIDDEN:
        if rx.search(pattern):
            return f"uses {what}, which RE2-style engines do not support"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"does not compile: {exc}"
    return None


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def full_match(pattern: str, value: str) -> bool:
    return _compiled(pattern).fullmatch(value) is not None

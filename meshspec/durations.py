"""Durations as written in specs: Go-style `250ms`, `1.5s`, `2m`, `1h30m`.

The spec stores them as seconds (float) and writes them back in the shortest
exact form, so output is deterministic.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
DURATION_PATTERN = r"^((\d+(\.\d+)?)(ms|s|m|h))+$"
MAX_SECONDS = 24 * 3600.0


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError with a readable reason otherwise."""
    if not isinstance(text, str):
        raise ValueError("a duration is a string such as '250ms', '10s' or '1m'")
    s = text.strip()
    if not s:
        raise ValueError("a duration is a string such as '250ms', '10s' or '1m'")
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"'{text}' is not a duration; write e.g. '250ms', '10s', '1m30s'")
    if total > MAX_SECONDS:
        raise ValueError(f"'{text}' is longer than the maximum of 24h")
    if 0 < total < 0.001:
        raise ValueError(f"'{text}' is shorter than the minimum of 1ms")
    return round(total, 6)


def format_duration(seconds: float) -> str:
    """Shortest exact spelling: 0.25 -> '250ms', 90 -> '90s', 3600 -> '1h'."""
    ms = round(seconds * 1000)
    if ms % 1000:
        return f"{ms}ms"
    s = ms // 1000
    if s and s % 3600 == 0:
        return f"{s // 3600}h"
    if s and s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"

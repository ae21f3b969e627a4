"""Bad input gets a clear error at once: `meshspec validate` on each hostile file.

Each file is small or moderate, but built to make a YAML reader work hard or
fail badly: aliases that expand a billion times, nesting 5,000 levels deep,
binary garbage, a duplicate key, tabs as indentation. Each must end with
exit code 1 and a finding that names file:line:column, in about the time the
command takes to start (the baseline: validating a one-service file).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

SERVICE = "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata:\n  name: svc\n"


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, this = chr(96 + i), chr(97 + i)
        lines.append(f"{this}: &{this} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


CASES: dict[str, Callable[[], str | bytes]] = {
    "valid one-service file (baseline)": lambda: SERVICE + "spec:\n  ports: [{port: 80}]\n",
    "alias bomb (10^9 values)": _alias_bomb,
    "5,000-deep flow nesting": lambda: "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "5,000-deep block nesting": lambda: "".join("  " * i + f"k{i}:\n" for i in range(5000)),
    "1 MB of binary garbage": lambda: os.urandom(2**20),
    "duplicate key": lambda: SERVICE + "  name: again\n",
    "tabs as indentation": lambda: SERVICE + "spec:\n\tports: []\n",
}

_WHERE = re.compile(r":\d+:\d+: error MS\d+")


def write_cases(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, (name, make) in enumerate(CASES.items()):
        content = make()
        path = directory / f"case-{i}.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        files[name] = path
    return files


def clear_error(stderr: str, expect_error: bool) -> bool:
    return bool(_WHERE.search(stderr)) if expect_error else "0 errors" in stderr

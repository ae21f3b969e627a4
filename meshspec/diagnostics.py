"""Diagnostics: every finding is data with a stable code, a place and a hint.

Codes are `MS` plus a number and are never reused. Ranges:
MS1xx reading input, MS2xx spec validation, MS3xx and MS4xx retired (see
`meshspec.codes`), MS5xx reference implementation, MS6xx conformance,
MS1000+ adapter codes (each adapter owns a block of 1000, its `codes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, order=True)
class Location:
    """Where in a source file something was written (1-based line and column)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    location: Location | None = None
    path: str = ""
    target: str = ""
    hint: str = ""
    #: Areas such as "mtls" or "authz"; a loss in those weakens security.
    area: str = ""
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def file(self) -> str:
        return self.location.file if self.location else ""

    @property
    def line(self) -> int:
        return self.location.line if self.location else 0

    @property
    def column(self) -> int:
        return self.location.column if self.location else 0

    def sort_key(self) -> tuple[str, int, int, str, str, str]:
        return (self.file, self.line, self.column, self.code, self.path, self.message)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
        }
        if self.target:
            data["target"] = self.target
        if self.hint:
            data["hint"] = self.hint
        if self.area:
            data["area"] = self.area
        if self.extra:
            data["extra"] = self.extra
        return data

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        target = f" [{self.target}]" if self.target else ""
        path = f" (at {self.path})" if self.path else ""
        text = f"{where}{self.severity} {self.code}{target}: {self.message}{path}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=Diagnostic.sort_key)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    return "\n".join(d.render() for d in sorted_diagnostics(diagnostics))


def text_chunks(diagnostics: Sequence[Diagnostic], size: int = 1000) -> Iterator[str]:
    """`render_text` in pieces of `size` findings, each ending with a newline: a large
    mesh has tens of thousands of findings, and their whole text was the command's peak."""
    ordered = sorted_diagnostics(diagnostics)
    for start in range(0, len(ordered), size):
        yield "\n".join(d.render() for d in ordered[start : start + size]) + "\n"


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in sorted_diagnostics(diagnostics)], indent=2)


__all__ = [
    "Diagnostic",
    "Location",
    "Severity",
    "has_errors",
    "render_json",
    "render_text",
    "sorted_diagnostics",
    "text_chunks",
]

"""Where the compiler's findings go: one list, each finding located in the spec."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters._k8s import dotted
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic, Severity
from meshspec.spec import Spec
from meshspec.spec.bundle import PathKey


@dataclass
class Findings:
    spec: Spec
    target: str
    items: list[Diagnostic] = field(default_factory=list)

    def add(
        self,
        code: Code,
        key: str,
        path: PathKey,
        message: str,
        hint: str = "",
        severity: Severity | None = None,
    ) -> None:
        self.items.append(
            code(
                message,
                location=self.spec.locate(key, path) if key else None,
                path=dotted(path),
                target=self.target,
                hint=hint,
                severity=severity,
            )
        )

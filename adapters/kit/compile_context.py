"""What every part of a compiler shares while compiling one spec: the spec and the
findings so far, each located in the spec's own files."""

from __future__ import annotations

from dataclasses import dataclass, field

from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Spec
from meshspec.spec.bundle import PathKey, dotted


@dataclass
class CompileContext:
    spec: Spec
    #: the adapter's name, written into every finding (`Diagnostic.target`)
    target: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(self, code: Code, key: str, path: PathKey, message: str, hint: str) -> None:
        """A finding about the field at `path` of service `key`, located in its file."""
        self.diagnostics.append(
            code(
                message,
                location=self.spec.locate(key, path),
                path=dotted(path),
                target=self.target,
                hint=hint,
            )
        )

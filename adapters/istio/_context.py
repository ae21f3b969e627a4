"""What every part of the Istio compiler shares while compiling one spec."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters._k8s import dotted
from meshspec.codes import Code
from meshspec.diagnostics import Diagnostic
from meshspec.spec import Spec
from meshspec.spec.bundle import PathKey

TARGET = "istio"
ROOT_NAMESPACE = "istio-system"
NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"


@dataclass
class Context:
    spec: Spec
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(self, code: Code, key: str, path: PathKey, message: str, hint: str) -> None:
        """A finding about the field at `path` of service `key`, located in its file."""
        self.diagnostics.append(
            code(
                message,
                location=self.spec.locate(key, path),
                path=dotted(path),
                target=TARGET,
                hint=hint,
            )
        )

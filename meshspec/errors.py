"""Exceptions meshspec raises to callers of its Python API.

    MeshSpecError
    ├── SpecError          the input is not a valid spec (carries its diagnostics)
    ├── UnsupportedError   a target cannot express the spec without a disallowed loss
    ├── ImportFailed       native resources could not be read
    └── UnknownTarget      no adapter of that name is installed

The command line never lets these escape as tracebacks: it renders their
diagnostics and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshspec.diagnostics import Diagnostic


class MeshSpecError(Exception):
    """Base of every error meshspec raises on purpose."""


class _WithDiagnostics(MeshSpecError):
    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)


class SpecError(_WithDiagnostics):
    """The spec has errors; `diagnostics` says where and why."""


class UnsupportedError(_WithDiagnostics):
    """Compiling or importing would lose meaning the caller did not allow to lose."""


class ImportFailed(_WithDiagnostics):
    """Native resources could not be read at all."""


class UnknownTarget(MeshSpecError):
    """No adapter of that name; the message lists the installed ones."""

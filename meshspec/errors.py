"""Exceptions meshspec raises to callers of its Python API.

    MeshSpecError
    ├── SpecError          the input is not a valid spec (carries its diagnostics)
    └── UnknownTarget      no adapter of that name is installed

Compiling and importing do not raise for what a target cannot express: they
return their result with the losses as diagnostics (a disallowed security
loss is an error diagnostic), because the caller needs all of them at once.
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


class SpecError(MeshSpecError):
    """The spec has errors; `diagnostics` says where and why."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)


class UnknownTarget(MeshSpecError):
    """No adapter of that name; the message lists the installed ones."""

"""The scriptable surface: load, validate, explain, compile, import.

Each function returns data and diagnostics; the command line is a thin
layer over these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from meshspec.adapter import (
    CompileOptions,
    CompileResult,
    ImportResult,
    NativeDocument,
    apply_lossy_policy,
)
from meshspec.diagnostics import Diagnostic, has_errors
from meshspec.errors import SpecError
from meshspec.loader import LoadResult, load_paths, load_texts
from meshspec.registry import get_adapter
from meshspec.semantics import Decision, Request, decide
from meshspec.spec import Origin, Spec


def load(*paths: str) -> Spec:
    """The spec in these files or directories; SpecError if it has errors."""
    result = load_paths(paths)
    if not result.ok or result.spec is None:
        raise SpecError("the spec has errors", result.diagnostics)
    return result.spec


def load_text(text: str, name: str = "<string>") -> Spec:
    result = load_texts([(name, text)])
    if not result.ok or result.spec is None:
        raise SpecError("the spec has errors", result.diagnostics)
    return result.spec


def validate(*paths: str) -> list[Diagnostic]:
    """Every finding for these files (empty when the spec is clean)."""
    return load_paths(paths).diagnostics


def explain(spec: Spec, request: Request) -> Decision:
    """What the spec means for one request (the oracle's answer)."""
    return decide(spec, request)


def compile(
    spec: Spec, target: str, allow_lossy: Iterable[str] = (), workloads: bool = False
) -> CompileResult:
    """Native resources for `target`, with every loss as a diagnostic (a security loss
    is an error unless `allow_lossy` names its area); `workloads` adds the platform
    objects they assume (see `CompileOptions.workloads`)."""
    options = CompileOptions(allow_lossy=frozenset(allow_lossy), workloads=workloads)
    return get_adapter(target).compile(spec, options)


def import_resources(
    resources: Sequence[Mapping[str, Any] | NativeDocument], source: str
) -> ImportResult:
    """A neutral spec from native resources of mesh `source`."""
    adapter = get_adapter(source)
    docs = [
        r if isinstance(r, NativeDocument) else NativeDocument(r, Origin("<input>", i))
        for i, r in enumerate(resources)
    ]
    return adapter.import_resources(docs)


def ok(diagnostics: Iterable[Diagnostic]) -> bool:
    return not has_errors(diagnostics)


__all__ = [
    "LoadResult",
    "apply_lossy_policy",
    "compile",
    "explain",
    "import_resources",
    "load",
    "load_text",
    "validate",
]

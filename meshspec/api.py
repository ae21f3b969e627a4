"""The scriptable surface: load, validate, explain, compile, import.

Each function returns data and diagnostics; the command line is a thin
layer over these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from meshspec.adapter import (
    SECURITY_AREAS,
    CompileOptions,
    CompileResult,
    ImportResult,
    NativeDocument,
)
from meshspec.diagnostics import Diagnostic, Severity, has_errors
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


def apply_lossy_policy(
    diagnostics: Iterable[Diagnostic], allow_lossy: Iterable[str]
) -> list[Diagnostic]:
    """Security losses are errors unless their area is explicitly allowed."""
    allowed = set(allow_lossy)
    if "all" in allowed:
        allowed |= SECURITY_AREAS
    out = []
    for d in diagnostics:
        if d.area in SECURITY_AREAS and d.severity is Severity.ERROR and d.area in allowed:
            d = replace(
                d, severity=Severity.WARNING, hint=(d.hint + " (allowed by --allow-lossy)").strip()
            )
        out.append(d)
    return out


def compile(
    spec: Spec, target: str, allow_lossy: Iterable[str] = (), workloads: bool = False
) -> CompileResult:
    """Native resources for `target`, with every loss as a diagnostic; `workloads` adds
    the platform objects they assume (see `CompileOptions.workloads`)."""
    adapter = get_adapter(target)
    options = CompileOptions(allow_lossy=frozenset(allow_lossy), workloads=workloads)
    result = adapter.compile(spec, options)
    result.diagnostics = apply_lossy_policy(result.diagnostics, options.allow_lossy)
    return result


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
    "compile",
    "explain",
    "import_resources",
    "load",
    "load_text",
    "validate",
]

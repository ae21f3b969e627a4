"""Answers that depend only on a spec, remembered per spec object.

A loaded spec never changes, and a sidecar asks about the same one for every
request, so what a lookup derives from it alone (a port's mTLS mode, a
backend's breaker policy, a service key) is worked out once. Tables are keyed
by object identity and hold the spec itself, so an id reused by a later
object never returns a stale answer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from meshspec.spec import Spec

T = TypeVar("T")
_MAX_SPECS = 64
_MISSING = object()
_TABLES: dict[int, tuple[Spec, dict[Hashable, Any]]] = {}


def table(spec: Spec) -> dict[Hashable, Any]:
    """The memo table of `spec` (keys name the question, values its answer)."""
    hit = _TABLES.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    if len(_TABLES) >= _MAX_SPECS:
        _TABLES.clear()
    answers: dict[Hashable, Any] = {}
    _TABLES[id(spec)] = (spec, answers)
    return answers


def remembered(spec: Spec, question: Hashable, compute: Callable[[], T]) -> T:
    """The answer to `question` about `spec`, computed once."""
    answers = table(spec)
    found = answers.get(question, _MISSING)
    if found is _MISSING:
        found = answers[question] = compute()
    return cast(T, found)

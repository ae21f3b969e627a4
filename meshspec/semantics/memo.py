"""Answers that depend only on one unchanging object (a spec, a service document),
remembered per object.

A loaded spec never changes, and a sidecar asks about the same one for every
request, so what a lookup derives from it alone (a port's mTLS mode, a
backend's breaker policy, a service key, a service's route order) is worked out
once. Tables are keyed by object identity and hold the object itself, so an id
reused by a later object never returns a stale answer. Each kind of owner has its
own bound: a spec is large and few are live at once, service documents are many.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")
_MISSING = object()


class Memo:
    """Memo tables for at most `limit` owners (then it starts over)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._tables: dict[int, tuple[object, dict[Hashable, Any]]] = {}

    def table(self, owner: object) -> dict[Hashable, Any]:
        """The memo table of `owner` (keys name the question, values its answer)."""
        hit = self._tables.get(id(owner))
        if hit is not None and hit[0] is owner:
            return hit[1]
        if len(self._tables) >= self.limit:
            self._tables.clear()
        answers: dict[Hashable, Any] = {}
        self._tables[id(owner)] = (owner, answers)
        return answers

    def remembered(self, owner: object, question: Hashable, compute: Callable[[], T]) -> T:
        """The answer to `question` about `owner`, computed once."""
        answers = self.table(owner)
        found = answers.get(question, _MISSING)
        if found is _MISSING:
            found = answers[question] = compute()
        return cast(T, found)


#: answers about a whole spec
SPECS = Memo(64)
#: answers about one service document (its route order)
SERVICES = Memo(4096)


def remembered(spec: object, question: Hashable, compute: Callable[[], T]) -> T:
    """The answer to `question` about `spec`, computed once."""
    return SPECS.remembered(spec, question, compute)

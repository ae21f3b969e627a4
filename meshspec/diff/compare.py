"""Asking two deciders the same requests and keeping where they disagree.

A decider is anything that answers a request with a `Verdict`: the oracle over
a spec, or a mesh model over its resources. Requests that differ in the same
way (same destination, same fields with the same values on each side) are one
difference, shown with the first request that revealed it and a count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshspec.adapter import Verdict
from meshspec.diff.classify import Category, classify
from meshspec.semantics import Outcome, Request, UnknownService, decide
from meshspec.spec import Spec

Decider = Callable[[Request], Verdict]

#: every field of a verdict a change can move, in the order reports show them
FIELDS: tuple[str, ...] = (
    "outcome",
    "status",
    "route",
    "backends",
    "authz",
    "authz_rule",
    "mtls",
    "transport",
    "timeout",
    "retries",
    "breakers",
    "headers",
)
#: route and rule names are each mesh's own; between meshes only what they do compares
BEHAVIOUR_FIELDS: tuple[str, ...] = tuple(f for f in FIELDS if f not in ("route", "authz_rule"))

UNKNOWN = Verdict(Outcome.UNKNOWN_SERVICE, None)


def oracle(spec: Spec) -> Decider:
    """The spec's meaning; a request naming a service the spec lacks is `unknown_service`."""

    def answer(request: Request) -> Verdict:
        try:
            return Verdict.of(decide(spec, request))
        except UnknownService:
            return UNKNOWN

    return answer


def guarded(decider: Callable[[Request], Verdict]) -> Decider:
    """A model that raises LookupError for names it does not know answers `unknown_service`."""

    def answer(request: Request) -> Verdict:
        try:
            return decider(request)
        except LookupError:
            return UNKNOWN

    return answer


@dataclass(frozen=True)
class Difference:
    category: Category
    request: Request
    old: Verdict
    new: Verdict
    #: field -> (old value, new value), comparable form
    fields: Mapping[str, tuple[Any, Any]]
    #: how many checked requests differ in exactly this way
    requests: int = 1


@dataclass(frozen=True)
class Comparison:
    checked: int
    boundary: int
    differences: tuple[Difference, ...]
    #: services not asked: every input of their answers is equal on both sides
    unchanged_services: int = 0

    @property
    def equal(self) -> bool:
        return not self.differences

    def worst(self) -> Category | None:
        return min((d.category for d in self.differences), default=None, key=Category.rank)


def field_differences(
    old: Verdict, new: Verdict, fields: Sequence[str] = FIELDS
) -> dict[str, tuple[Any, Any]]:
    """The fields whose values differ, with header values narrowed to the edited names."""
    out = dict(old.differences(new, fields))
    if "outcome" in out and not (old.backends and new.backends):
        # one side stops before any backend: what the other would do there is noise
        out = {k: v for k, v in out.items() if k in ("outcome", "status")}
    if "headers" in out:
        a, b = out["headers"]
        if a is not None and b is not None:
            names = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            out["headers"] = ({k: a.get(k) for k in names}, {k: b.get(k) for k in names})
    return out


def compare(
    requests: Iterable[Request],
    old: Decider,
    new: Decider,
    fields: Sequence[str] = FIELDS,
    boundary: int = 0,
) -> Comparison:
    """Every way `old` and `new` disagree on `requests`, first example kept."""
    groups: dict[tuple[object, ...], Difference] = {}
    checked = 0
    for request in requests:
        checked += 1
        a, b = old(request), new(request)
        if a == b:
            continue
        diff = field_differences(a, b, fields)
        if not diff:
            continue
        key = (request.destination, a.route, b.route, _signature(diff))
        seen = groups.get(key)
        if seen is None:
            groups[key] = Difference(classify(a, b, diff), request, a, b, diff)
        else:
            groups[key] = Difference(
                seen.category, seen.request, seen.old, seen.new, seen.fields, seen.requests + 1
            )
    ordered = sorted(groups.values(), key=lambda d: d.category.rank())
    return Comparison(checked, boundary, tuple(ordered))


def _signature(diff: Mapping[str, tuple[Any, Any]]) -> str:
    return repr(sorted((k, repr(v)) for k, v in diff.items()))

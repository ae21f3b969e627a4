"""The `Verdict` fields a compile's findings announce as different (for the fuzzer):
each loss code names what it changes."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.ecs import codes as C
from meshspec.diagnostics import Diagnostic

_ANY = {C.ROUTING_LOST.code, C.NO_AUTHORIZATION.code, C.NO_MUTUAL_TLS.code, C.NAME_TOO_LONG.code}
_FIELDS: dict[str, frozenset[str]] = {
    C.SPLIT_LOST.code: frozenset({"route", "backends", "breakers", "outcome", "status", "authz"}),
    C.RETRIES_LOST.code: frozenset({"retries"}),
    C.TIMEOUT_MERGED.code: frozenset({"timeout"}),
    C.TIMEOUT_ROUNDED.code: frozenset({"timeout"}),
    C.RESILIENCE_LOST.code: frozenset({"breakers"}),
    C.HEADER_EDITS_LOST.code: frozenset({"headers"}),
}


def known_differences(diagnostics: Sequence[Diagnostic]) -> frozenset[str] | None:
    fields: set[str] = set()
    for d in diagnostics:
        if d.code in _ANY:
            return None
        fields |= _FIELDS.get(d.code, frozenset())
    return frozenset(fields)

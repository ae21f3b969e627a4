"""The answer's fields the vpc-lattice compile announces as different from the spec's,
per request: what the fuzzer skips instead of reporting (`known_differences`)."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.vpc_lattice import codes as C
from meshspec.diagnostics import Diagnostic
from meshspec.semantics import Request
from meshspec.spec import Spec

#: findings that change which rule, backend or authorization answers: any field
_RESHAPING = {
    C.MATCH_LOST.code,
    C.ROUTE_UNREACHABLE.code,
    C.TOO_MANY_RULES.code,
    C.WEIGHTS_SCALED.code,
    C.HEADER_CASE.code,
    C.AUTHZ_L7.code,
    C.AUTHZ_IDENTITY.code,
    C.AUTHZ_BACKEND.code,
    C.AUTHZ_NO_PEER.code,
    C.TCP_PORT.code,
}
#: findings that change named fields only
_FIELDS = {
    C.TIMEOUT_LOST.code: frozenset({"timeout"}),
    C.RETRIES_LOST.code: frozenset({"retries"}),
    C.RESILIENCE_LOST.code: frozenset({"breakers"}),
    C.HEADER_EDITS_LOST.code: frozenset({"headers"}),
    C.MTLS_LOST.code: frozenset({"mtls", "transport"}),
}
#: a client outside the mesh reaches the pods directly: nothing is checked
_DIRECT = {C.MTLS_LOST.code, C.AUTHZ_DIRECT.code}


def known_differences(
    diagnostics: Sequence[Diagnostic], spec: Spec, request: Request
) -> frozenset[str] | None:
    codes = {d.code for d in diagnostics}
    if codes & _RESHAPING:
        return None
    if request.source is None and codes & _DIRECT:
        return None
    out: frozenset[str] = frozenset()
    for code, fields in _FIELDS.items():
        if code in codes:
            out |= fields
    return out

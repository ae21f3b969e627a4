"""The semantics oracle: what a spec means for a request. Pure; no I/O, no clock."""

from meshspec.semantics.authz import AuthzDecision, AuthzOutcome, authorize
from meshspec.semantics.decide import (
    DEFAULT_TIMEOUT,
    BackendShare,
    BreakerPolicy,
    Decision,
    Outcome,
    RetryPolicy,
    UnknownService,
    breaker_policy,
    decide,
    resolve_service,
)
from meshspec.semantics.mtls import Transport, effective_mtls, port_mode, transport
from meshspec.semantics.paths import (
    NormalizedTarget,
    RejectedTarget,
    normalize_host,
    normalize_target,
)
from meshspec.semantics.request import Request
from meshspec.semantics.routing import (
    RouteSelection,
    ordered_candidates,
    precedence_key,
    select_route,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "AuthzDecision",
    "AuthzOutcome",
    "BackendShare",
    "BreakerPolicy",
    "Decision",
    "NormalizedTarget",
    "Outcome",
    "RejectedTarget",
    "Request",
    "RetryPolicy",
    "RouteSelection",
    "Transport",
    "UnknownService",
    "authorize",
    "breaker_policy",
    "decide",
    "effective_mtls",
    "normalize_host",
    "normalize_target",
    "ordered_candidates",
    "port_mode",
    "precedence_key",
    "resolve_service",
    "select_route",
    "transport",
]

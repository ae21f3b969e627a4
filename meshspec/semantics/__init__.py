"""The semantics oracle: what a spec means for a request. Pure; no I/O, no clock."""

from meshspec.semantics.authz import AuthzDecision, AuthzOutcome, authorize
from meshspec.semantics.decide import (
    DEFAULT_TIMEOUT,
    BackendShare,
    BreakerPolicy,
    Decision,
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
from meshspec.semantics.steps import (
    GATEWAY_ERRORS,
    PER_TRY_TIMEOUT,
    BackendResult,
    Outcome,
    RetryPolicy,
    choose_port,
    host_parts,
    in_cluster_domain,
    retriable_failure,
    retriable_status,
    roll_up,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "GATEWAY_ERRORS",
    "PER_TRY_TIMEOUT",
    "AuthzDecision",
    "AuthzOutcome",
    "BackendResult",
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
    "choose_port",
    "decide",
    "effective_mtls",
    "host_parts",
    "in_cluster_domain",
    "normalize_host",
    "normalize_target",
    "ordered_candidates",
    "port_mode",
    "precedence_key",
    "resolve_service",
    "retriable_failure",
    "retriable_status",
    "roll_up",
    "select_route",
    "transport",
]

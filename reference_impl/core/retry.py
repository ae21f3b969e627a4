"""Whether a failed attempt may be retried under a route's `retries.retryOn` and status codes.

Envoy's meaning of each condition: `5xx` covers any 5xx response and any
attempt without a response (connect failure, refused stream, reset, per-try
timeout); `gateway-error` covers 502/503/504 and the same failures (Envoy
reports them as 503/504); `reset` covers a connection that died or timed out
before responding; `connect-failure` and `refused-stream` only themselves.
"""

from __future__ import annotations

from meshspec.semantics import RetryPolicy
from meshspec.spec import RetryOn
from reference_impl.core.events import FailureKind

PER_TRY_TIMEOUT = "per-try-timeout"

_FAILURE_CONDITIONS: dict[str, frozenset[RetryOn]] = {
    FailureKind.CONNECT_FAILURE: frozenset(
        {RetryOn.CONNECT_FAILURE, RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}
    ),
    FailureKind.REFUSED_STREAM: frozenset(
        {RetryOn.REFUSED_STREAM, RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}
    ),
    FailureKind.RESET: frozenset({RetryOn.RESET, RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}),
    PER_TRY_TIMEOUT: frozenset({RetryOn.RESET, RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}),
}


def retriable_failure(policy: RetryPolicy, failure: str) -> bool:
    return bool(_FAILURE_CONDITIONS[failure] & set(policy.retry_on))


def retriable_status(policy: RetryPolicy, status: int) -> bool:
    if status in policy.status_codes:
        return True
    if RetryOn.SERVER_ERROR in policy.retry_on and 500 <= status <= 599:
        return True
    return RetryOn.GATEWAY_ERROR in policy.retry_on and status in (502, 503, 504)

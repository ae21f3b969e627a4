"""What a route's policy does to a failing or slow backend, for targets that answer
with policy (the oracle and models) rather than by running requests.

Documented meaning (docs/spec.md, `meshspec/semantics/decide.py`, route fields):
`retries.attempts` counts retries after the first try; a try is retried when
its status is in `statusCodes`, or `5xx` is in `on` and the status is 5xx, or
`gateway-error` is in `on` and the status is 502, 503 or 504. The route
`timeout` bounds the whole request; when it runs out the client sidecar
answers 504. A try slower than `perTryTimeout` is cut and counts as a
timed-out try: Envoy's `reset`, `5xx` and `gateway-error` conditions retry
it (envoyproxy.io, router filter, x-envoy-retry-on), and when the last try
is cut the client sidecar answers 504. A try whose connection the backend's
application resets without answering reaches the client's sidecar as the
backend sidecar's 503 (Envoy: "upstream connect error or disconnect/reset
before headers"), so `reset`, `5xx` and `gateway-error` each retry it; when
every try is reset the client gets 503.

A fault on some `instances` only (`failed`): the probe's requests go round
robin over a version's instances. Without outlier detection each failing
instance answers its share with the fault's status. With outlier detection,
a failing instance is ejected at its `consecutive5xxErrors`-th 5xx and stays
out for `baseEjectionTime` (longer than any probe), so `consecutive5xxErrors`
answers per failing instance fail, as long as `maxEjectionPercent` lets that
many instances out (one always may, as in Envoy). A route that retries the
status hides failures behind the other instances, so `failed` is left
unobserved there. A live target observes the same things by running the
requests.
"""

from __future__ import annotations

from dataclasses import replace

from conformance.case import Fault
from conformance.observation import Observation
from meshspec.semantics import PER_TRY_TIMEOUT, RetryPolicy, retriable_failure, retriable_status

TIMEOUT_STATUS = 504
#: what the client sees when the backend's application resets the connection
RESET_STATUS = 503


def _failed(observation: Observation, fault: Fault, instances: int, count: int) -> int | None:
    """How many of `count` requests end in the fault's 5xx, when only some instances fail."""
    assert fault.instances is not None and fault.status is not None
    failing = min(fault.instances, instances)
    policy = observation.retries or RetryPolicy()
    if policy.attempts and retriable_status(policy, fault.status):
        return None
    od = observation.outlier_detection
    if not od or fault.status < 500:
        if count % instances:
            return None  # which instance takes the odd requests depends on where it starts
        return count // instances * failing
    consecutive = int(od.get("consecutive5xxErrors") or 0)
    ejectable = max(1, instances * int(od.get("maxEjectionPercent") or 0) // 100)
    if consecutive < 1 or failing > ejectable or count < instances * consecutive:
        return None
    return failing * consecutive


def apply_fault(
    observation: Observation, fault: Fault, instances: int = 1, count: int = 1
) -> Observation:
    """The observation once the backend misbehaves as `fault` says.

    Only for requests that reach a backend; a request refused or rejected
    before that is not changed. The backend is as slow on every try. When
    the whole timeout would cut in before the last per-try timeout, which try
    it ends depends on timing, so `attempts` is left unobserved.
    """
    if observation.outcome != "forwarded":
        return observation
    policy = observation.retries or RetryPolicy()
    if fault.instances is not None:
        return replace(observation, failed=_failed(observation, fault, instances, count))
    if fault.reset:
        retried = retriable_failure(policy, "reset")
        retried = retried or RESET_STATUS in policy.status_codes
        retries = min(fault.times, policy.attempts) if retried else 0
        failed = fault.times > retries
        return replace(
            observation,
            status=RESET_STATUS if failed else observation.status,
            attempts=1 + retries,
        )
    if fault.status is not None:
        retries = min(fault.times, policy.attempts) if retriable_status(policy, fault.status) else 0
        failed = fault.times > retries
        return replace(
            observation,
            status=fault.status if failed else observation.status,
            attempts=1 + retries,
        )
    timeout = observation.timeout
    per_try = policy.per_try_timeout
    if per_try is not None and fault.delay_seconds > per_try:
        retried = retriable_failure(policy, PER_TRY_TIMEOUT)
        tries = 1 + policy.attempts if retried else 1
        known = timeout is None or tries * per_try < timeout
        return replace(observation, status=TIMEOUT_STATUS, attempts=tries if known else None)
    late = timeout is not None and fault.delay_seconds > timeout
    return replace(observation, status=TIMEOUT_STATUS if late else observation.status, attempts=1)

"""Policy-answering targets judge faults the way the spec documents retries and timeouts."""

from __future__ import annotations

import pytest

from conformance.case import Fault
from conformance.faults import apply_fault
from conformance.observation import Observation
from meshspec.semantics import RetryPolicy
from meshspec.spec import RetryOn

DEFAULT_ON = (RetryOn.CONNECT_FAILURE, RetryOn.REFUSED_STREAM, RetryOn.RESET, RetryOn.GATEWAY_ERROR)


def _forwarded(retries: RetryPolicy, timeout: float | None = 15.0) -> Observation:
    return Observation(outcome="forwarded", status=200, retries=retries, timeout=timeout)


@pytest.mark.parametrize(
    ("policy", "fault", "status", "attempts"),
    [
        (RetryPolicy(), Fault(status=503), 503, 1),
        (RetryPolicy(3, None, DEFAULT_ON), Fault(status=503, times=2), 200, 3),
        (RetryPolicy(3, None, DEFAULT_ON), Fault(status=503, times=9), 503, 4),
        (RetryPolicy(3, None, DEFAULT_ON), Fault(status=500), 500, 1),
        (RetryPolicy(3, None, (RetryOn.SERVER_ERROR,)), Fault(status=500), 200, 2),
        (RetryPolicy(1, None, (), (500,)), Fault(status=500, times=1), 200, 2),
        (RetryPolicy(1, None, (), (500,)), Fault(status=501, times=1), 501, 1),
    ],
)
def test_failures_and_retries(
    policy: RetryPolicy, fault: Fault, status: int, attempts: int
) -> None:
    got = apply_fault(_forwarded(policy), fault)
    assert (got.status, got.attempts) == (status, attempts)


@pytest.mark.parametrize(
    ("timeout", "delay", "status"), [(0.5, "1s", 504), (0.5, "100ms", 200), (None, "2s", 200)]
)
def test_slow_backends_and_the_route_timeout(
    timeout: float | None, delay: str, status: int
) -> None:
    got = apply_fault(_forwarded(RetryPolicy(), timeout), Fault(delay=delay))
    assert (got.status, got.attempts) == (status, 1)


@pytest.mark.parametrize(
    ("policy", "timeout", "delay", "status", "attempts"),
    [
        # every try is cut at 100ms and retried (reset, gateway-error): 3 tries, then 504
        (RetryPolicy(2, 0.1, DEFAULT_ON), 15.0, "1s", 504, 3),
        (RetryPolicy(2, 0.1, (RetryOn.SERVER_ERROR,)), 15.0, "1s", 504, 3),
        # a timed-out try is not a status code, nor a connect failure
        (RetryPolicy(2, 0.1, (), (504,)), 15.0, "1s", 504, 1),
        (RetryPolicy(2, 0.1, (RetryOn.CONNECT_FAILURE,)), 15.0, "1s", 504, 1),
        # faster than the per-try timeout: one try answers
        (RetryPolicy(2, 0.5, DEFAULT_ON), 15.0, "100ms", 200, 1),
        # the whole timeout cuts in first: which try it ends is timing, unobserved
        (RetryPolicy(5, 0.1, DEFAULT_ON), 0.25, "1s", 504, None),
        (RetryPolicy(2, 0.1, DEFAULT_ON), None, "1s", 504, 3),
    ],
)
def test_per_try_timeouts(
    policy: RetryPolicy, timeout: float | None, delay: str, status: int, attempts: int | None
) -> None:
    got = apply_fault(_forwarded(policy, timeout), Fault(delay=delay))
    assert (got.status, got.attempts) == (status, attempts)


def test_requests_stopped_before_the_backend_are_unchanged() -> None:
    denied = Observation(outcome="denied", status=403)
    assert apply_fault(denied, Fault(status=503)) == denied


@pytest.mark.parametrize("data", [{}, {"status": 503, "delay": "1s"}, {"delay": "soon"}])
def test_a_fault_is_one_thing(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault.model_validate(data)


@pytest.mark.parametrize(
    ("policy", "fault", "status", "attempts"),
    [
        (RetryPolicy(), Fault(reset=True), 503, 1),
        (RetryPolicy(2, None, DEFAULT_ON), Fault(reset=True), 200, 2),
        (RetryPolicy(2, None, DEFAULT_ON), Fault(reset=True, times=5), 503, 3),
        (RetryPolicy(2, None, (RetryOn.SERVER_ERROR,)), Fault(reset=True), 200, 2),
        (RetryPolicy(2, None, (RetryOn.CONNECT_FAILURE,)), Fault(reset=True), 503, 1),
    ],
)
def test_a_reset_reaches_the_client_as_503_and_is_retried_like_one(
    policy: RetryPolicy, fault: Fault, status: int, attempts: int
) -> None:
    seen = apply_fault(_forwarded(policy), fault)
    assert (seen.status, seen.attempts) == (status, attempts)


OD = {"consecutive5xxErrors": 3, "maxEjectionPercent": 50}


@pytest.mark.parametrize(
    ("outlier", "policy", "instances", "count", "failed"),
    [
        (None, RetryPolicy(), 2, 12, 6),  # no detection: the failing instance's half
        (None, RetryPolicy(), 2, 11, None),  # odd count: depends on where round robin starts
        (OD, RetryPolicy(), 2, 12, 3),  # ejected at its third 5xx
        (OD, RetryPolicy(), 2, 4, None),  # too few requests to see the ejection
        ({**OD, "maxEjectionPercent": 0}, RetryPolicy(), 2, 12, 3),  # one may always go
        (OD, RetryPolicy(2, None, DEFAULT_ON), 2, 12, None),  # retries hide failures
        ({"consecutive5xxErrors": 2, "maxEjectionPercent": 10}, RetryPolicy(), 4, 16, 2),
    ],
)
def test_failures_of_one_instance_under_outlier_detection(
    outlier: dict[str, int] | None,
    policy: RetryPolicy,
    instances: int,
    count: int,
    failed: int | None,
) -> None:
    observed = Observation(
        outcome="forwarded", status=200, retries=policy, outlier_detection=outlier
    )
    fault = Fault(status=503, times=20, instances=1)
    assert apply_fault(observed, fault, instances, count).failed == failed


def test_a_fault_on_some_instances_needs_a_status() -> None:
    with pytest.raises(ValueError, match="'instances' goes with a 'status' fault"):
        Fault(reset=True, instances=1)
    with pytest.raises(ValueError, match="exactly one"):
        Fault(reset=True, status=503)

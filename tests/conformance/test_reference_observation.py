"""How the live target reads policy off answers: timeouts by the clock, limits by crowds."""

from __future__ import annotations

import pytest

from conformance.targets.limits import Ending, limits_seen
from conformance.targets.reference import timeout_seen


@pytest.mark.parametrize(
    ("told", "status", "elapsed", "seen"),
    [
        ("500ms", 504, 0.53, "500ms"),
        ("3s", 504, 3.2, "3s"),
        # fired far too early or too late: the clock's reading, which no expectation matches
        ("3s", 504, 0.6, "600ms"),
        ("500ms", 504, 1.5, "1500ms"),
        # nothing fired: what the sidecar named stands
        ("500ms", 200, 0.01, "500ms"),
        ("none", 504, 0.6, "none"),
        (None, 504, 0.6, None),
    ],
)
def test_a_fired_timeout_is_held_against_the_clock(
    told: str | None, status: int, elapsed: float, seen: str | None
) -> None:
    assert timeout_seen(told, status, elapsed) == seen


def _endings(served: int, overflow: int, other: int = 0) -> list[Ending]:
    return (
        [Ending(200, False)] * served
        + [Ending(503, True)] * overflow
        + [Ending(503, False)] * other
    )


@pytest.mark.parametrize(
    ("endings", "peak", "seen"),
    [
        (_endings(24, 0), 24, None),
        (_endings(15, 9), 10, {"maxConnections": 10, "maxPendingRequests": 5}),
        (_endings(24, 0), 4, {"maxConnections": 4}),
        (_endings(3, 21), 3, {"maxConnections": 3, "maxPendingRequests": 0}),
        # an app's own 503 is no overflow, and an unanswered crowd shows a limit nobody wrote
        (_endings(23, 0, other=1), 23, {"maxConnections": 23}),
    ],
)
def test_limits_are_read_from_overflow_and_concurrency(
    endings: list[Ending], peak: int, seen: dict[str, int] | None
) -> None:
    assert limits_seen(endings, peak) == seen

"""How the live target reads policy off answers: timeouts by the clock, limits by waves."""

from __future__ import annotations

import pytest

from conformance.targets.limits import DELAY, Ending, limits_seen
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


def _endings(first: int, later: int, overflow: int, other: int = 0) -> list[Ending]:
    return (
        [Ending(200, False, DELAY + 0.05)] * first
        + [Ending(200, False, 2 * DELAY + 0.05)] * later
        + [Ending(503, True, 0.02)] * overflow
        + [Ending(503, False, DELAY)] * other
    )


@pytest.mark.parametrize(
    ("endings", "seen"),
    [
        (_endings(24, 0, 0), None),
        (_endings(10, 5, 9), {"maxConnections": 10, "maxPendingRequests": 5}),
        (_endings(4, 20, 0), {"maxConnections": 4}),
        (_endings(3, 0, 21), {"maxConnections": 3, "maxPendingRequests": 0}),
        # an app's own 503 is no overflow, and an unanswered crowd shows a limit nobody wrote
        (_endings(23, 0, 0, other=1), {"maxConnections": 23}),
    ],
)
def test_limits_are_read_from_overflow_and_waves(
    endings: list[Ending], seen: dict[str, int] | None
) -> None:
    assert limits_seen(endings) == seen

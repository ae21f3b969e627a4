"""A sampled share must not fail by chance: every probe that counts shares sends enough
requests that its tolerance is at least five standard deviations of each share's sampling
error (a chance failure about once in a million runs; three and a third deviations, as
some cases had, failed a run now and then)."""

from __future__ import annotations

import math

import pytest

from conformance.case import Probe
from conformance.library import builtin_cases

SAMPLED = [
    (case.case.name, index, probe)
    for case in builtin_cases()
    for index, probe in enumerate(case.case.probes)
    if probe.expect.weights
]


def test_some_probes_count_shares() -> None:
    assert len(SAMPLED) >= 3


@pytest.mark.parametrize(
    ("name", "index", "probe"), SAMPLED, ids=[f"{n}-{i}" for n, i, _ in SAMPLED]
)
def test_the_tolerance_is_five_deviations_of_the_sample(
    name: str, index: int, probe: Probe
) -> None:
    weights = probe.expect.weights
    count = probe.count
    tolerance = probe.expect.tolerance
    total = sum(weights.values())
    for backend, weight in weights.items():
        share = weight / total
        deviation = math.sqrt(share * (1 - share) / count)
        assert tolerance >= 5 * deviation, (
            f"{name} probe {index}: {backend}'s share {share:.3f} over {count} requests varies "
            f"by {deviation:.4f}; a tolerance of {tolerance} is {tolerance / deviation:.1f} times "
            "that "
            f"(send at least {math.ceil(25 * share * (1 - share) / tolerance**2)} requests)"
        )

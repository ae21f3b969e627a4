"""What the live target now reads off real answers can fail: wrong route, timeout or limits.

Each case below passes on the reference target as written (the support
matrix test runs them); with one expectation changed, a live run must report
FAILED naming that field.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.case import LoadedCase
from conformance.results import Result
from conformance.runner import run_target
from conformance.targets.reference import ReferenceTarget

#: (case, probe index, wrong expectation, the field that must mismatch)
WRONG: list[tuple[str, int, dict[str, Any], str]] = [
    ("timeout-fires-on-time", 0, {"route": "short"}, "route"),
    ("timeout-fires-on-time", 0, {"timeout": "400ms"}, "timeout"),
    ("timeout-explicit", 0, {"timeout": "5s"}, "timeout"),
    ("timeout-zero-disables", 0, {"timeout": "15s"}, "timeout"),
    (
        "resilience-connection-limits",
        0,
        {"connectionLimits": {"maxConnections": 11}},
        "connectionLimits",
    ),
    (
        "resilience-off-unless-written",
        0,
        {"connectionLimits": {"maxConnections": 10}},
        "connectionLimits",
    ),
]


def _mutated(case: LoadedCase, index: int, update: dict[str, Any], name: str) -> LoadedCase:
    probe = case.case.probes[index]
    expect = probe.expect.model_validate(
        {**probe.expect.model_dump(by_alias=True, exclude_unset=True), **update}
    )
    probes = list(case.case.probes)
    probes[index] = probe.model_copy(update={"expect": expect})
    renamed = case.case.model_copy(update={"probes": tuple(probes), "name": name})
    return case.model_copy(update={"case": renamed})


@pytest.mark.loopback
def test_wrong_expectations_fail_live(cases: list[LoadedCase]) -> None:
    by_name = {c.name: c for c in cases}
    wrong = [
        _mutated(by_name[name], index, update, f"wrong-{n}")
        for n, (name, index, update, _) in enumerate(WRONG)
    ]
    report = run_target(ReferenceTarget(), wrong)
    results = {r.name: r for r in report.cases}
    for n, (name, _, _, field) in enumerate(WRONG):
        result = results[f"wrong-{n}"]
        assert result.result is Result.FAILED, (name, field, result)
        assert field in result.probes[0].mismatches, (name, field, result.probes[0])

"""The whole suite against every target that runs here, and the committed support matrix.

Every case passes or is NOT_SUPPORTED with a reason; there is no list of
tolerated failures. A target that really cannot do what a case checks does
not claim the case's feature (and says why), so the case is not supported
there rather than failing quietly in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.report import render_markdown
from conformance.results import Result, TargetReport
from conformance.targets.discovery import LIVE, live_installed
from tests.fixtures.realservers import _missing

REPO = Path(__file__).resolve().parents[2]
MATRIX = REPO / "docs" / "support-matrix.md"


def _by_name(reports: list[TargetReport]) -> dict[str, TargetReport]:
    return {r.target: r for r in reports}


def test_default_targets_include_oracle_reference_and_every_adapter(
    suite_reports: list[TargetReport],
) -> None:
    from meshspec.registry import available_targets

    adapters = [
        a
        for adapter in available_targets()
        for a in (adapter, LIVE.get(adapter))
        if a == adapter or (a and live_installed(a))
    ]
    assert list(_by_name(suite_reports)) == ["oracle", "reference", *adapters]


def test_oracle_passes_every_case(suite_reports: list[TargetReport]) -> None:
    oracle = _by_name(suite_reports)["oracle"]
    assert [c.name for c in oracle.cases if c.result is not Result.PASSED] == []


def test_every_target_passes_or_says_why_not(suite_reports: list[TargetReport]) -> None:
    failing = []
    for report in suite_reports:
        for case in report.cases:
            if case.result in (Result.FAILED, Result.ERROR):
                failing.append(f"{report.target} {case.name}: {case.result}: {case.summary_line()}")
            if case.result is Result.NOT_SUPPORTED:
                assert case.reason, f"{report.target} {case.name}: not supported without a reason"
    assert not failing, "failing cases:\n" + "\n".join(failing)


def test_a_feature_a_model_lacks_is_explained(suite_reports: list[TargetReport]) -> None:
    """Missing features of the istio model come with the mesh's reason, not just a name."""
    istio = _by_name(suite_reports)["istio"]
    fragment = next(c for c in istio.cases if c.name == "paths-fragment")
    assert fragment.result is Result.NOT_SUPPORTED
    assert "paths.reject_fragment (" in fragment.reason
    assert "strips" in fragment.reason


def test_model_targets_pass_most_cases_within_their_reach(
    suite_reports: list[TargetReport],
) -> None:
    """A case is out of a target's reach when it needs a feature the target lacks or a spec
    the adapter cannot compile (both with the reason shown); of the rest, a model passes
    at least half (Gateway API has no mTLS or authorization at all, Linkerd no DENY)."""
    for report in (r for r in suite_reports if r.label.endswith("(model)")):
        reachable = [
            c
            for c in report.cases
            if not (
                c.result is Result.NOT_SUPPORTED
                and ("missing features" in c.reason or "cannot compile" in c.reason)
            )
        ]
        passed = report.counts()[Result.PASSED]
        assert reachable and passed >= len(reachable) // 2, f"{report.target}: {passed} passed"


def test_committed_support_matrix_is_current(suite_reports: list[TargetReport]) -> None:
    missing = [live for live in LIVE.values() if live not in _by_name(suite_reports)]
    unavailable = [f"{r.target}: {r.unavailable}" for r in suite_reports if r.unavailable]
    if missing or unavailable:  # the matrix shows every target; here one cannot run
        why = [*(f"{name}: its real programs are not installed" for name in missing), *unavailable]
        _missing("cannot regenerate the matrix here: " + "; ".join(why))
    fresh = render_markdown(suite_reports)
    if not MATRIX.exists() or MATRIX.read_text(encoding="utf-8") != fresh:
        pytest.fail(
            "docs/support-matrix.md is not current; regenerate it with: "
            "meshspec conformance -o markdown --report-file docs/support-matrix.md",
            pytrace=False,
        )

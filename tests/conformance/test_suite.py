"""The whole suite against every target that runs here, and the committed support matrix.

Every case passes or is NOT_SUPPORTED with a reason. Known failures are
listed below with the reason, target by target (Istio's default path
normalisation really differs from the spec's); a case failing that is not
listed fails this test, and so does a listed one that now passes, so the
list can neither hide a regression nor go stale.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.report import render_markdown
from conformance.results import Result, TargetReport

REPO = Path(__file__).resolve().parents[2]
MATRIX = REPO / "docs" / "support-matrix.md"

#: (target, case) -> why it fails; each is a real behaviour difference, not a test bug
KNOWN_FAILURES: dict[tuple[str, str], str] = {
    **{
        ("istio", case): "Istio's default pathNormalization (BASE) neither merges slashes nor "
        "rejects encoded slashes, backslashes, fragments or bad escapes; the compiler sets no "
        "mesh-wide normalisation"
        for case in (
            "paths-double-slash",
            "paths-encoded-slash",
            "paths-fragment",
            "paths-encoded-backslash",
            "paths-malformed-escape",
            "paths-normalized-before-routing",
        )
    },
    ("reference", "paths-backslash"): "the reference sidecar's HTTP parser answers 400 to a "
    "request target that starts with a backslash; the spec reads the backslash as '/'",
}


def _by_name(reports: list[TargetReport]) -> dict[str, TargetReport]:
    return {r.target: r for r in reports}


def test_default_targets_include_oracle_reference_and_every_adapter(
    suite_reports: list[TargetReport],
) -> None:
    from meshspec.registry import available_targets

    assert list(_by_name(suite_reports)) == ["oracle", "reference", *available_targets()]


def test_oracle_passes_every_case(suite_reports: list[TargetReport]) -> None:
    oracle = _by_name(suite_reports)["oracle"]
    assert [c.name for c in oracle.cases if c.result is not Result.PASSED] == []


def test_every_target_passes_or_says_why_not(suite_reports: list[TargetReport]) -> None:
    unexpected, stale = [], []
    for report in suite_reports:
        for case in report.cases:
            known = (report.target, case.name) in KNOWN_FAILURES
            if case.result in (Result.FAILED, Result.ERROR) and not known:
                unexpected.append(
                    f"{report.target} {case.name}: {case.result}: {case.summary_line()}"
                )
            if known and case.result is not Result.FAILED:
                stale.append(f"{report.target} {case.name} is listed as failing but {case.result}")
            if case.result is Result.NOT_SUPPORTED:
                assert case.reason, f"{report.target} {case.name}: not supported without a reason"
    assert not unexpected, "failing cases:\n" + "\n".join(unexpected)
    assert not stale, "\n".join(stale)


def test_model_targets_run_most_cases(suite_reports: list[TargetReport]) -> None:
    for report in suite_reports[2:]:
        passed = report.counts()[Result.PASSED]
        assert passed >= len(report.cases) // 2, f"{report.target}: only {passed} passed"


def test_committed_support_matrix_is_current(suite_reports: list[TargetReport]) -> None:
    fresh = render_markdown(suite_reports)
    if not MATRIX.exists() or MATRIX.read_text(encoding="utf-8") != fresh:
        pytest.fail(
            "docs/support-matrix.md is not current; regenerate it with: "
            "meshspec conformance -o markdown --report-file docs/support-matrix.md",
            pytrace=False,
        )

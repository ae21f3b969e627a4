"""The suite as a pytest plugin, for users' CI: `pytest --meshspec-target istio
--meshspec-cases DIR` adds one test per (target, case).

Does nothing unless one of its options is given. Every target runs its
cases once (grouped by spec); each test item then reports its case:
passed, failed (with expected vs observed), or skipped as not supported
with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.case import LoadedCase
from conformance.library import builtin_cases, load_cases
from conformance.results import CaseResult, Result, TargetReport
from conformance.runner import run_target
from conformance.targets import get_target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meshspec-conformance", "meshspec conformance suite")
    group.addoption(
        "--meshspec-target",
        action="append",
        default=[],
        metavar="TARGET",
        help="Run the conformance cases against TARGET (oracle, reference, istio, ...).",
    )
    group.addoption(
        "--meshspec-cases",
        action="append",
        default=[],
        metavar="DIR",
        help="Case files or directories (default: the built-in cases).",
    )
    group.addoption(
        "--meshspec-profile",
        action="append",
        default=[],
        metavar="PROFILE",
        help="Only cases of this profile.",
    )


class ConformanceFailure(Exception):
    """A case failed or errored on a target."""


class _Runs:
    """Runs each target once, on first use, and keeps the results by case name."""

    def __init__(self, cases: list[LoadedCase]) -> None:
        self.cases = cases
        self.reports: dict[str, TargetReport] = {}

    def result(self, target: str, case: str) -> CaseResult:
        if target not in self.reports:
            self.reports[target] = run_target(get_target(target), self.cases)
        return next(c for c in self.reports[target].cases if c.name == case)


class ConformanceItem(pytest.Item):
    def __init__(self, *, target: str, case: LoadedCase, runs: _Runs, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.case = case
        self.runs = runs
        self.add_marker(pytest.mark.meshspec_conformance)

    def runtest(self) -> None:
        result = self.runs.result(self.target, self.case.name)
        if result.result is Result.NOT_SUPPORTED:
            pytest.skip(f"not supported: {result.reason}")
        if result.result is Result.FAILED:
            raise ConformanceFailure(result.summary_line())
        if result.result is Result.ERROR:
            raise ConformanceFailure(f"error: {result.reason}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            return f"{self.case.name} on {self.target} ({self.case.source}): {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return Path(self.case.source), 0, f"{self.target}::{self.case.name}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "meshspec_conformance: a case of the meshspec conformance suite"
    )


def _selected(config: pytest.Config) -> tuple[list[str], list[LoadedCase]] | None:
    targets: list[str] = config.getoption("meshspec_target")
    dirs: list[str] = config.getoption("meshspec_cases")
    profiles: list[str] = config.getoption("meshspec_profile")
    if not (targets or dirs):
        return None
    cases = load_cases(dirs) if dirs else builtin_cases()
    if profiles:
        cases = [c for c in cases if str(c.profile) in profiles]
    return targets or ["oracle"], cases


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    selected = _selected(config)
    if selected is None:
        return
    targets, cases = selected
    runs = _Runs(cases)
    items.extend(_items(session, targets, cases, runs))


def _items(
    session: pytest.Session, targets: list[str], cases: list[LoadedCase], runs: _Runs
) -> Iterator[ConformanceItem]:
    for target in targets:
        for case in cases:
            yield ConformanceItem.from_parent(
                session,
                name=f"conformance[{target}-{case.name}]",
                target=target,
                case=case,
                runs=runs,
            )

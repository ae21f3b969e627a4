"""Shared fixtures: the built-in cases, and one run of every local target over them."""

from __future__ import annotations

import pytest

from conformance.case import LoadedCase
from conformance.library import builtin_cases
from conformance.results import TargetReport
from conformance.runner import run_target
from conformance.targets import default_target_names, get_target


@pytest.fixture(scope="session")
def cases() -> list[LoadedCase]:
    return builtin_cases()


@pytest.fixture(scope="session")
def suite_reports(cases: list[LoadedCase]) -> list[TargetReport]:
    """Every target that runs here, over every built-in case (the reference one is slow)."""
    return [run_target(get_target(name), cases) for name in default_target_names()]

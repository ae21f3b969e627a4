"""Shared data for the tests against real servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.realservers import upstream_dir


@pytest.fixture(scope="session")
def upstream() -> Path:
    """../shared/upstream (or $MESHSPEC_UPSTREAM): read in place, never copied."""
    return upstream_dir()


@pytest.fixture(scope="session")
def bookinfo_files(upstream: Path) -> list[Path]:
    files = sorted((upstream / "examples" / "istio" / "bookinfo").glob("*.yaml"))
    assert files, "no Istio bookinfo examples in the upstream data"
    return files

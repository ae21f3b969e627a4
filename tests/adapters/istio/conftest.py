"""Shared helpers for the Istio model, importer and apply tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def upstream_root() -> Path:
    return Path(os.environ.get("MESHSPEC_UPSTREAM") or REPO_ROOT.parent / "shared" / "upstream")


@pytest.fixture(scope="session")
def upstream() -> Path:
    root = upstream_root()
    if not root.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"upstream data missing at {root}")
        pytest.skip(f"upstream data missing at {root} (set MESHSPEC_UPSTREAM)")
    return root

"""istioctl validate and istioctl analyze (offline) over real Istio files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.realservers import (
    istioctl_analyze,
    istioctl_validate,
    load_yaml_documents,
    read_versions,
    run_istioctl,
)

pytestmark = pytest.mark.realservers


def _bookinfo(upstream: Path) -> Path:
    return upstream / "examples" / "istio" / "bookinfo"


def test_istioctl_is_the_pinned_build(istioctl: Path) -> None:
    rc, out = run_istioctl(["version", "--remote=false"], istioctl=istioctl)
    assert rc == 0, out
    assert read_versions()["ISTIO_RELEASE_LABEL"] in out, out


def test_validate_accepts_bookinfo(istioctl: Path, bookinfo_files: list[Path]) -> None:
    rc, out = istioctl_validate(bookinfo_files, istioctl=istioctl)
    assert rc == 0, out
    assert out.count(" is valid") + out.count(" has warnings") == len(bookinfo_files), out
    assert "error" not in out.lower(), out


def test_validate_rejects_invalid_policies(istioctl: Path, upstream: Path, tmp_path: Path) -> None:
    """Istio's own negative cases; the `_err` key of each case is the
    expected message, and not part of the object."""
    from ruamel.yaml import YAML

    cases = load_yaml_documents(
        upstream / "examples" / "istio" / "crd-validation" / "authz-invalid.yaml"
    )
    objects = [{k: v for k, v in case.items() if k != "_err"} for case in cases]
    path = tmp_path / "authz-invalid.yaml"
    with path.open("w") as handle:
        YAML(typ="safe", pure=True).dump_all(objects, handle)

    rc, out = istioctl_validate([path], istioctl=istioctl)
    assert rc != 0, out
    for case in cases:
        name = case["metadata"]["name"]
        assert f"AuthorizationPolicy//{name}:" in out, out
        assert str(case["_err"]).lower() in out.lower(), out


def _analyze_set(bookinfo: Path, name: str) -> list[Path]:
    """What the Bookinfo task applies together with *name*: its own file if it
    brings its DestinationRules, else the subsets of destination-rule-all.yaml."""
    path = bookinfo / name
    if any(d.get("kind") == "DestinationRule" for d in load_yaml_documents(path)):
        return [path]
    return [bookinfo / "destination-rule-all.yaml", path]


def test_analyze_finds_no_error_in_bookinfo(
    istioctl: Path, upstream: Path, bookinfo_files: list[Path]
) -> None:
    bookinfo = _bookinfo(upstream)
    failures = []
    for path in bookinfo_files:
        files = _analyze_set(bookinfo, path.name)
        rc, out = istioctl_analyze(files, istioctl=istioctl)
        if rc != 0 or "Error [" in out:
            failures.append(f"{[f.name for f in files]}: rc={rc}\n{out}")
    assert not failures, "\n".join(failures)


def test_analyze_reports_missing_subsets(istioctl: Path, upstream: Path) -> None:
    # The routes to subsets v1 without the DestinationRules that define them.
    path = _bookinfo(upstream) / "virtual-service-all-v1.yaml"
    rc, out = istioctl_analyze([path], istioctl=istioctl)
    assert rc != 0, out
    assert "Error [IST0101]" in out, out
    assert '"reviews+v1"' in out, out

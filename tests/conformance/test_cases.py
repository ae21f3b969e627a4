"""The case library: enough cases, every feature and profile covered, bad files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.case import LoadedCase
from conformance.features import Profile
from conformance.library import CaseError, load_cases
from meshspec.features import Feature

GOOD = """\
profile: routing
spec: |
  apiVersion: meshspec.io/v1alpha1
  kind: Service
  metadata: {name: echo}
cases:
  - name: CASE
    description: d
    features: [routing.path.prefix]
    probes:
      - {from: echo, to: echo, expect: {status: 200}}
"""


def test_at_least_forty_cases(cases: list[LoadedCase]) -> None:
    assert len(cases) >= 40


def test_every_profile_has_cases(cases: list[LoadedCase]) -> None:
    assert {c.profile for c in cases} == set(Profile)


def test_every_feature_is_needed_by_some_case(cases: list[LoadedCase]) -> None:
    used = {f for c in cases for f in c.features}
    assert set(Feature) - used == set()


def test_case_files_live_under_their_profile(cases: list[LoadedCase]) -> None:
    for case in cases:
        assert Path(case.source).parent.name == str(case.profile), case.source


@pytest.mark.parametrize(
    "target",
    [
        "//admin",
        "/admin%2F",
        "/public/%2e%2e/admin",
        "/public/../admin",
        "/admin#x",
        "/admin%00",
        "\\admin",
    ],
)
def test_adversarial_paths_are_probed(cases: list[LoadedCase], target: str) -> None:
    paths = {p.path for c in cases for p in c.case.probes}
    assert target in paths


@pytest.mark.parametrize(
    "host", ["Guarded.Default.SVC.cluster.local", "guarded.default.svc.cluster.local."]
)
def test_adversarial_hosts_are_probed(cases: list[LoadedCase], host: str) -> None:
    assert host in {p.to for c in cases for p in c.case.probes}


@pytest.mark.parametrize("letter", "abcde")
def test_precedence_examples_present(cases: list[LoadedCase], letter: str) -> None:
    assert any(c.name.startswith(f"precedence-{letter}-") for c in cases)


def test_duplicate_case_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.replace("CASE", "same"))
    (tmp_path / "b.yaml").write_text(GOOD.replace("CASE", "same"))
    with pytest.raises(CaseError, match=r"'same' is already used in .*a\.yaml"):
        load_cases([tmp_path])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("status: 200", "stauts: 200"), "Extra inputs are not permitted"),
        (("{status: 200}", "{}"), "checks at least one thing"),
        (("from: echo, ", ""), "either 'from' a service or 'unauthenticated: true'"),
        (("routing.path.prefix", "routing.path.fuzzy"), "routing.path.fuzzy"),
        (("kind: Service", "kind: Servise"), "the spec has errors"),
        (("{status: 200}", "{version: v1, weights: {v1: 1}}"), "one of 'version'"),
    ],
)
def test_bad_case_files_are_refused_with_the_file_named(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("CASE", "c").replace(*edit))
    with pytest.raises(CaseError, match=message) as info:
        load_cases([tmp_path])
    assert str(path) in str(info.value)


def test_user_directory_loads(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(GOOD.replace("CASE", "mine"))
    (loaded,) = load_cases([tmp_path])
    assert (loaded.name, loaded.profile) == ("mine", Profile.ROUTING)

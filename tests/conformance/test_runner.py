"""The runner's decisions: run, not supported (and why), error; never a silent pass."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from conformance.case import LoadedCase, Probe
from conformance.observation import VERDICT_FIELDS, Observation
from conformance.results import Result
from conformance.runner import run_target
from conformance.targets.base import NotSupported, Session, TargetUnavailable
from meshspec.features import ALL_FEATURES
from meshspec.spec import Spec


@dataclass
class FakeTarget:
    """A target whose every trait a test can set."""

    name: str = "fake"
    description: str = "a fake target"
    features: frozenset[str] = ALL_FEATURES
    feature_gaps: Mapping[str, str] = field(default_factory=dict)
    observes: frozenset[str] = VERDICT_FIELDS
    answer: Observation = field(
        default_factory=lambda: Observation(outcome="forwarded", status=200)
    )
    unavailable: str = ""
    refuse: str = ""
    crash_on_probe: bool = False
    crash_on_stop: bool = False
    opened: int = 0

    def check_available(self) -> None:
        if self.unavailable:
            raise TargetUnavailable(self.unavailable)

    @contextmanager
    def open(self, spec: Spec, spec_text: str, instances: int = 1) -> Iterator[Session]:
        if self.refuse:
            raise NotSupported(self.refuse)
        self.opened += 1
        yield self  # type: ignore[misc]
        if self.crash_on_stop:
            raise RuntimeError("stuck")

    def probe(self, probe: Probe) -> Observation:
        if self.crash_on_probe:
            raise RuntimeError("boom")
        return self.answer


def _case(cases: list[LoadedCase], name: str) -> LoadedCase:
    return next(c for c in cases if c.name == name)


@pytest.fixture
def mtls_cases(cases: list[LoadedCase]) -> list[LoadedCase]:
    return [_case(cases, "mtls-strict-default-in-mesh"), _case(cases, "mtls-port-override")]


def test_missing_features_are_named(mtls_cases: list[LoadedCase]) -> None:
    target = FakeTarget(features=ALL_FEATURES - {"mtls.port"})
    strict, port = run_target(target, mtls_cases).cases
    assert port.result is Result.NOT_SUPPORTED and port.reason == "missing features: mtls.port"
    assert strict.result is Result.FAILED  # fake answers carry no mTLS mode


def test_missing_features_carry_the_targets_reason(mtls_cases: list[LoadedCase]) -> None:
    gaps = {"mtls.port": "no per-port modes"}
    target = FakeTarget(features=ALL_FEATURES - {"mtls.port"}, feature_gaps=gaps)
    port = run_target(target, mtls_cases).cases[1]
    assert port.reason == "missing features: mtls.port (no per-port modes)"


def test_cases_sharing_a_spec_share_one_session(mtls_cases: list[LoadedCase]) -> None:
    target = FakeTarget()
    run_target(target, mtls_cases)
    assert target.opened == 1


def test_unexpressible_spec_is_not_supported_with_the_reason(mtls_cases: list[LoadedCase]) -> None:
    report = run_target(FakeTarget(refuse="cannot compile (MS1234)"), mtls_cases)
    assert {(c.result, c.reason) for c in report.cases} == {
        (Result.NOT_SUPPORTED, "cannot compile (MS1234)")
    }


def test_unavailable_target(mtls_cases: list[LoadedCase]) -> None:
    report = run_target(FakeTarget(unavailable="no package"), mtls_cases)
    assert report.unavailable == "no package"
    assert all(c.result is Result.NOT_SUPPORTED and "no package" in c.reason for c in report.cases)


def test_a_crashing_probe_is_an_error(mtls_cases: list[LoadedCase]) -> None:
    report = run_target(FakeTarget(crash_on_probe=True), mtls_cases)
    assert all(c.result is Result.ERROR and "boom" in c.reason for c in report.cases)
    assert not report.ok


def test_a_target_that_cannot_stop_turns_passes_into_errors(cases: list[LoadedCase]) -> None:
    case = _case(cases, "authz-no-policy-allows")
    target = FakeTarget(crash_on_stop=True, observes=frozenset({"status"}))
    (result,) = run_target(target, [case]).cases
    assert result.result is Result.ERROR and "cannot stop" in result.reason


def test_nothing_observable_is_not_a_pass(cases: list[LoadedCase]) -> None:
    case = _case(cases, "timeout-explicit")
    (result,) = run_target(FakeTarget(observes=frozenset({"status"})), [case]).cases
    assert result.result is Result.NOT_SUPPORTED
    assert result.reason == "target cannot observe: probe-1 (route, timeout)"


def test_partly_observable_probe_lists_what_was_unchecked(cases: list[LoadedCase]) -> None:
    case = _case(cases, "authz-no-policy-allows")
    (result,) = run_target(FakeTarget(observes=frozenset({"status"})), [case]).cases
    assert result.result is Result.PASSED
    assert result.probes[0].unchecked == ("authz", "authzRule")

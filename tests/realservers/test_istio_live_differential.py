"""The Istio model against real Istio, request by request.

Every probe of the built-in conformance cases, and the requests of a seeded
sample of fuzzed specs, are answered by the Istio adapter's model and by real
istiod + Envoy (`istio-live`); a difference is a bug in the model (fixed
there, citing Istio's source) or a known one listed below with why it stays.
"""

from __future__ import annotations

import pytest

from conformance.library import builtin_cases
from conformance.targets.istio_live import IstioLiveTarget
from conformance.targets.istio_live_differential import (
    Difference,
    DifferentialReport,
    render,
    run_cases,
    run_fuzzed,
)
from conformance.targets.istio_live_mesh import IstioLoopback
from conformance.targets.model import ModelTarget

pytestmark = pytest.mark.realservers

FUZZ_SEED = 17
FUZZ_SPECS = 6

#: (source, path, field) -> why the model and real Istio still differ there
KNOWN: dict[tuple[str, str, str], str] = {}


def _unexplained(report: DifferentialReport) -> list[Difference]:
    out = []
    for diff in report.differences:
        rest = {
            name: values
            for name, values in diff.fields.items()
            if (diff.source.rsplit("/", 1)[-1], str(diff.request["path"]), name) not in KNOWN
        }
        if rest:
            out.append(Difference(diff.source, diff.request, rest, diff.spec_yaml))
    return out


def test_the_model_agrees_with_real_istio_on_every_case(istio_loopback: IstioLoopback) -> None:
    report = run_cases(IstioLiveTarget(), ModelTarget("istio"), builtin_cases())
    assert report.compared > 100
    unexplained = _unexplained(report)
    assert not unexplained, render(DifferentialReport(report.compared, unexplained, report.skipped))


def test_the_model_agrees_with_real_istio_on_fuzzed_specs(istio_loopback: IstioLoopback) -> None:
    report = run_fuzzed(IstioLiveTarget(), ModelTarget("istio"), FUZZ_SPECS, FUZZ_SEED)
    assert report.compared >= FUZZ_SPECS
    unexplained = _unexplained(report)
    assert not unexplained, (
        render(DifferentialReport(report.compared, unexplained, report.skipped))
        + "\n"
        + "\n---\n".join(d.spec_yaml for d in unexplained[:1])
    )

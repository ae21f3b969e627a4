"""The Istio model against real Istio: every difference is a bug in our reading of Istio.

For each probe of the conformance cases, and for the requests of a seeded
sample of fuzzed specs (`conformance.fuzz.scenarios`), the Istio adapter's
model answers and real Istio (`istio-live`) is asked over real HTTP; the
fields both can show are compared: status (the outcome as a live client
sees it), the backends that answered, the route, the whole-request timeout,
the retry policy and, under a fault, the tries the application saw. A model
that says `forwarded` names no status; a live 200 is the same thing.

Live shares are sampled: a backend the model gives no traffic must not
answer, and one the model sends everything to must answer every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from functools import partial

from conformance.case import LoadedCase, Probe
from conformance.observation import Observation
from conformance.targets.istio_live import IstioLiveTarget, with_target_ports
from conformance.targets.live_differential import (
    Difference,
    DifferentialReport,
    Fields,
    compare_with,
    fuzzed_specs,
    probes_of,
    render,
    request_json,
    run_case_files,
)
from conformance.targets.model import ModelTarget
from meshspec.codecs import dump_yaml
from meshspec.loader import load_texts
from meshspec.spec import Spec

__all__ = ["Difference", "DifferentialReport", "compare", "render", "run_cases", "run_fuzzed"]

COMPARED = ("status", "backends", "route", "timeout", "retries", "attempts")


def _route_fields(model: Observation, live: Observation, probe: Probe) -> Fields:
    """The route of a forwarded request, its timeout and its retry policy."""
    out: Fields = {}
    if model.route != live.route:
        out["route"] = (model.route, live.route)
    if model.timeout != live.timeout:
        out["timeout"] = (model.timeout, live.timeout)
    if (model.retries or None) != (live.retries or None):
        out["retries"] = (
            None if model.retries is None else model.retries.to_json(),
            None if live.retries is None else live.retries.to_json(),
        )
    return out


def compare(model: Observation, live: Observation, probe: Probe) -> Fields:
    """The compared fields on which the two differ (model value, live value)."""
    return compare_with(model, live, probe, _route_fields)


def run_spec(
    live: IstioLiveTarget,
    model: ModelTarget,
    spec: Spec,
    spec_text: str,
    probes: Sequence[Probe],
    source: str,
    report: DifferentialReport,
    instances: int = 1,
) -> None:
    """Both sides run the spec with the instances per version its case file asks
    for; what the live target cannot run (it says why) is skipped, not compared."""
    from conformance.targets.base import NotSupported

    spec = with_target_ports(spec)  # what the live target runs; the model reads the same
    with ExitStack() as stack:
        try:
            model_session = stack.enter_context(model.open(spec, spec_text, instances))
            live_session = stack.enter_context(live.open(spec, spec_text, instances))
        except NotSupported as exc:
            report.skipped.append(f"{source}: {exc}")
            return
        for probe in probes:
            got_model = model_session.probe(probe)
            got_live = live_session.probe(probe)
            report.compared += 1
            diffs = compare(got_model, got_live, probe)
            if diffs:
                report.differences.append(Difference(source, request_json(probe), diffs, spec_text))


def run_cases(
    live: IstioLiveTarget, model: ModelTarget, cases: Sequence[LoadedCase]
) -> DifferentialReport:
    """Every probe of every case the Istio adapter can compile."""
    return run_case_files(partial(run_spec, live, model), cases)


def run_fuzzed(
    live: IstioLiveTarget, model: ModelTarget, examples: int, seed: int
) -> DifferentialReport:
    """A seeded sample of fuzzed specs, each with its drawn request and a few more."""
    report = DifferentialReport()
    for index, (docs, request) in enumerate(fuzzed_specs(examples, seed)):
        text = dump_yaml(docs)
        loaded = load_texts([(f"fuzz-{seed}-{index}.yaml", text)])
        if not loaded.ok or loaded.spec is None:
            continue
        source = f"fuzz seed {seed} #{index}"
        run_spec(live, model, loaded.spec, text, probes_of(request), source, report)
    return report

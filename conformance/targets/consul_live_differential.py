"""The Consul model against real Consul: every difference is a bug in our reading of Consul.

For each probe of the conformance cases, and for the requests of a seeded
sample of fuzzed specs (`conformance.fuzz.scenarios`), the Consul adapter's
model answers and real Consul (`consul-live`) is asked over real HTTP; the
fields real Consul shows are compared: the status (a model that says
`forwarded` names none; a live 200 is the same thing), the backends that
answered, the headers the application received, and under a fault the tries
the application saw. Route names, timeouts and retry policies are not
visible on the wire here (`conformance.targets.consul_live`), so they are
compared through their effects only.

Live shares are sampled: a backend the model gives no traffic must not
answer, and one the model sends everything to must answer every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from functools import partial

from conformance.case import LoadedCase, Probe
from conformance.observation import Observation
from conformance.targets.base import NotSupported
from conformance.targets.consul_live import OBSERVED, ConsulLiveTarget, observed_key
from conformance.targets.consul_live_agent import ConsulAPIError
from conformance.targets.live_differential import (
    Difference,
    DifferentialReport,
    Fields,
    compare_with,
    fuzzed_specs,
    probes_of,
    request_json,
    run_case_files,
)
from conformance.targets.model import ModelTarget
from meshspec.codecs import dump_yaml
from meshspec.loader import load_texts
from meshspec.spec import Spec

LIVE = "consul-live"


def _headers_differ(model: Observation, live: Observation, probe: Probe) -> bool:
    """The model's headers must reach the application as it says; a header the
    request sent that the model drops must not."""
    if model.headers is None or live.headers is None:
        return False
    seen = {k.lower(): v for k, v in live.headers.items()}
    wanted = {k.lower(): v for k, v in model.headers.items()}
    if any(seen.get(k) != v for k, v in wanted.items()):
        return True
    return any(k.lower() not in wanted and k.lower() in seen for k in probe.headers)


def _header_fields(model: Observation, live: Observation, probe: Probe) -> Fields:
    if _headers_differ(model, live, probe):
        return {"headers": (model.headers, live.headers)}
    return {}


def compare(model: Observation, live: Observation, probe: Probe) -> Fields:
    """The compared fields on which the two differ (model value, live value)."""
    return compare_with(model, live, probe, _header_fields)


def run_spec(
    live: ConsulLiveTarget,
    model: ModelTarget,
    spec: Spec,
    spec_text: str,
    probes: Sequence[Probe],
    source: str,
    report: DifferentialReport,
    instances: int = 1,
) -> None:
    """Both sides run the spec; what either cannot run (it says why) is skipped.
    Probes real Consul already answered in this process (the conformance run of
    the same case file) are compared with those answers, not sent again."""
    kept = [OBSERVED.get(observed_key(spec_text, instances, p)) for p in probes]
    with ExitStack() as stack:
        try:
            model_session = stack.enter_context(model.open(spec, spec_text, instances))
            if all(k is not None for k in kept):
                for probe, got_live in zip(probes, kept, strict=True):
                    assert got_live is not None
                    _compare(report, source, spec_text, probe, model_session.probe(probe), got_live)
                return
            live_session = stack.enter_context(live.open(spec, spec_text, instances))
        except NotSupported as exc:
            report.skipped.append(f"{source}: {exc}")
            return
        except ConsulAPIError as exc:
            # The model read entries real Consul refuses: that is a difference too.
            refused = ("written", f"refused: {exc}")
            report.differences.append(
                Difference(source, {}, {"config entries": refused}, spec_text, LIVE)
            )
            return
        for probe in probes:
            got_model = model_session.probe(probe)
            _compare(report, source, spec_text, probe, got_model, live_session.probe(probe))


def _compare(
    report: DifferentialReport,
    source: str,
    spec_text: str,
    probe: Probe,
    got_model: Observation,
    got_live: Observation,
) -> None:
    report.compared += 1
    diffs = compare(got_model, got_live, probe)
    if diffs:
        report.differences.append(Difference(source, request_json(probe), diffs, spec_text, LIVE))


def run_cases(
    live: ConsulLiveTarget, model: ModelTarget, cases: Sequence[LoadedCase]
) -> DifferentialReport:
    """Every probe of every case the Consul adapter can compile."""
    return run_case_files(partial(run_spec, live, model), cases)


def run_fuzzed(
    live: ConsulLiveTarget, model: ModelTarget, specs: int, seed: int, draws: int = 0
) -> DifferentialReport:
    """Fuzzed specs drawn with `seed` (`draws` of them, 8 per wanted spec by default),
    each with its drawn request and a few more, until `specs` of them ran on both
    sides: most random specs ask for what Consul cannot express, and those are
    skipped before any process starts."""
    report = DifferentialReport()
    ran = 0
    for index, (docs, request) in enumerate(fuzzed_specs(draws or 8 * specs, seed)):
        if ran >= specs:
            break
        text = dump_yaml(docs)
        loaded = load_texts([(f"fuzz-{seed}-{index}.yaml", text)])
        if not loaded.ok or loaded.spec is None:
            continue
        skipped = len(report.skipped)
        source = f"fuzz seed {seed} #{index}"
        run_spec(live, model, loaded.spec, text, probes_of(request), source, report)
        ran += len(report.skipped) == skipped
    return report

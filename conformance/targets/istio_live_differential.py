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
from dataclasses import dataclass, field
from typing import Any

from conformance.case import Expect, LoadedCase, Probe
from conformance.observation import Observation
from conformance.targets.istio_live import IstioLiveTarget, with_target_ports
from conformance.targets.model import ModelTarget
from meshspec.codecs import dump_yaml
from meshspec.loader import load_texts
from meshspec.semantics import Request
from meshspec.spec import Spec

#: requests each fuzzed spec gets beside its own drawn one
EXTRA_PATHS = ("/", "/a", "/api/v1", "/ab")
COMPARED = ("status", "backends", "route", "timeout", "retries", "attempts")


@dataclass(frozen=True)
class Difference:
    """One request on which the model and real Istio disagree."""

    source: str
    request: dict[str, Any]
    fields: dict[str, tuple[Any, Any]]
    spec_yaml: str = ""
    #: the live target compared with
    live: str = "istio-live"

    def render(self) -> str:
        lines = [f"{self.source}: {self.request}"]
        for name, (model, live) in sorted(self.fields.items()):
            lines.append(f"  {name}: model {model!r}, {self.live} {live!r}")
        return "\n".join(lines)


@dataclass
class DifferentialReport:
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    #: spec sources neither side could run (compile errors), with the reason
    skipped: list[str] = field(default_factory=list)


def _status(obs: Observation) -> int | None:
    return obs.status if obs.status is not None or obs.outcome != "forwarded" else 200


def compare(model: Observation, live: Observation, probe: Probe) -> dict[str, tuple[Any, Any]]:
    """The compared fields on which the two differ (model value, live value)."""
    out: dict[str, tuple[Any, Any]] = {}
    if _status(model) != live.status:
        out["status"] = (_status(model), live.status)
    if live.status == 200:
        sent = {k for k, v in model.backends.items() if v > 0}
        seen = {k for k, v in live.backends.items() if v > 0}
        full = {k for k, v in model.backends.items() if v >= 1.0}
        if not seen <= _versions_of(sent, seen) or (full and seen != _versions_of(full, seen)):
            out["backends"] = (dict(model.backends), dict(live.backends))
        if model.route != live.route:
            out["route"] = (model.route, live.route)
        if model.timeout != live.timeout:
            out["timeout"] = (model.timeout, live.timeout)
        if (model.retries or None) != (live.retries or None):
            out["retries"] = (
                None if model.retries is None else model.retries.to_json(),
                None if live.retries is None else live.retries.to_json(),
            )
    tried = (model.attempts, live.attempts)
    if probe.fault is not None and None not in tried and tried[0] != tried[1]:
        out["attempts"] = tried
    return out


def _versions_of(
    keys: set[tuple[str, str | None]], seen: set[tuple[str, str | None]]
) -> set[tuple[str, str | None]]:
    """Model keys naming a whole service (no subset) cover every version live answered from."""
    out = set()
    for service, version in keys:
        if version is None:
            out |= {k for k in seen if k[0] == service} or {(service, None)}
        else:
            out.add((service, version))
    return out


def _request_json(probe: Probe) -> dict[str, Any]:
    out: dict[str, Any] = {
        "from": probe.from_ or "(outside the mesh)",
        "to": probe.to,
        "method": probe.method,
        "path": probe.path,
    }
    if probe.headers:
        out["headers"] = dict(probe.headers)
    if probe.port is not None:
        out["port"] = probe.port
    if probe.fault is not None:
        out["fault"] = probe.fault.model_dump(exclude_defaults=True)
    return out


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
                report.differences.append(
                    Difference(source, _request_json(probe), diffs, spec_text)
                )


def run_cases(
    live: IstioLiveTarget, model: ModelTarget, cases: Sequence[LoadedCase]
) -> DifferentialReport:
    """Every probe of every case the Istio adapter can compile."""
    report = DifferentialReport()
    groups: dict[tuple[str, int], list[LoadedCase]] = {}
    for case in cases:
        groups.setdefault((case.spec_text, case.instances), []).append(case)
    for (spec_text, instances), group in groups.items():
        probes = [p for case in group for p in case.case.probes]
        loaded = load_texts([(f"{group[0].source}#spec", spec_text)])
        if not loaded.ok or loaded.spec is None:
            raise ValueError(f"{group[0].source}: the spec has errors")
        run_spec(live, model, loaded.spec, spec_text, probes, group[0].source, report, instances)
    return report


def probe_of(request: Request, count: int = 1) -> Probe:
    """A fuzzed request as a probe (its expectation is never checked here)."""
    return Probe.model_validate(
        {
            "from": request.source,
            "unauthenticated": request.source is None,
            "to": request.destination,
            "method": request.method,
            "path": request.target,
            "headers": dict(request.headers),
            "port": request.port,
            "count": count,
            "expect": Expect(status=200).model_dump(by_alias=True, exclude_unset=True),
        }
    )


def fuzzed_specs(examples: int, seed: int) -> list[tuple[list[dict[str, Any]], Request]]:
    """`examples` scenarios (spec documents and one request) drawn with `seed`."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from conformance.fuzz import scenarios

    drawn: list[tuple[list[dict[str, Any]], Request]] = []

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate,),
    )
    @hypothesis_seed(seed)
    @given(scenarios())
    def draw(scenario: tuple[list[dict[str, Any]], Request]) -> None:
        drawn.append(scenario)

    draw()
    return drawn[:examples]


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
        requests = [request, *(_with_path(request, p) for p in EXTRA_PATHS)]
        probes = [probe_of(r) for r in requests]
        run_spec(live, model, loaded.spec, text, probes, f"fuzz seed {seed} #{index}", report)
    return report


def _with_path(request: Request, path: str) -> Request:
    return Request(
        destination=request.destination,
        target=path,
        method=request.method,
        headers=dict(request.headers),
        port=request.port,
        source=request.source,
    )


def render(report: DifferentialReport) -> str:
    lines = [f"compared {report.compared} requests: {len(report.differences)} difference(s)"]
    for diff in report.differences:
        lines.append(diff.render())
    for skipped in report.skipped:
        lines.append(f"skipped {skipped}")
    return "\n".join(lines)

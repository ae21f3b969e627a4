"""A mesh model against the real mesh, as every live differential does it: the
report of differences, the fields compared alike, case files and fuzzed specs
as requests.

Each differential (`istio_live_differential`, `consul_live_differential`)
adds the fields its live target shows besides status, backends and tries, and
how it runs one spec on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.case import Expect, LoadedCase, Probe
from conformance.observation import Observation
from meshspec.loader import load_texts
from meshspec.semantics import Request
from meshspec.spec import Spec

#: requests each fuzzed spec gets beside its own drawn one
EXTRA_PATHS = ("/", "/a", "/api/v1", "/ab")

Fields = dict[str, tuple[Any, Any]]
#: the fields a live target shows of a forwarded request beyond its backends
ForwardedFields = Callable[[Observation, Observation, Probe], Fields]


@dataclass(frozen=True)
class Difference:
    """One request on which the model and the real mesh disagree."""

    source: str
    request: dict[str, Any]
    fields: Fields
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


def render(report: DifferentialReport) -> str:
    lines = [f"compared {report.compared} requests: {len(report.differences)} difference(s)"]
    for diff in report.differences:
        lines.append(diff.render())
    for skipped in report.skipped:
        lines.append(f"skipped {skipped}")
    return "\n".join(lines)


def status_of(obs: Observation) -> int | None:
    """The status a live client sees: a model that says `forwarded` names none,
    and a live 200 is the same thing."""
    return obs.status if obs.status is not None or obs.outcome != "forwarded" else 200


def versions_of(
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


def compare_with(
    model: Observation, live: Observation, probe: Probe, forwarded: ForwardedFields
) -> Fields:
    """The compared fields on which the two differ (model value, live value): the
    status, the backends of a forwarded request (live shares are sampled: a
    backend the model gives no traffic must not answer, one the model sends
    everything to must answer every request) with the `forwarded` fields, and
    the tries under a fault."""
    out: Fields = {}
    if status_of(model) != live.status:
        out["status"] = (status_of(model), live.status)
    if live.status == 200:
        sent = {k for k, v in model.backends.items() if v > 0}
        seen = {k for k, v in live.backends.items() if v > 0}
        full = {k for k, v in model.backends.items() if v >= 1.0}
        if not seen <= versions_of(sent, seen) or (full and seen != versions_of(full, seen)):
            out["backends"] = (dict(model.backends), dict(live.backends))
        out.update(forwarded(model, live, probe))
    tried = (model.attempts, live.attempts)
    if probe.fault is not None and None not in tried and tried[0] != tried[1]:
        out["attempts"] = tried
    return out


def request_json(probe: Probe) -> dict[str, Any]:
    """The request of a probe as a difference shows it."""
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


#: runs one spec on both sides: spec, its text, probes, source, report, instances
RunSpec = Callable[[Spec, str, Sequence[Probe], str, DifferentialReport, int], None]


def run_case_files(run_spec: RunSpec, cases: Sequence[LoadedCase]) -> DifferentialReport:
    """Every probe of every case, one `run_spec` per case file (its spec and the
    instances per version it asks for)."""
    report = DifferentialReport()
    groups: dict[tuple[str, int], list[LoadedCase]] = {}
    for case in cases:
        groups.setdefault((case.spec_text, case.instances), []).append(case)
    for (spec_text, instances), group in groups.items():
        probes = [p for case in group for p in case.case.probes]
        loaded = load_texts([(f"{group[0].source}#spec", spec_text)])
        if not loaded.ok or loaded.spec is None:
            raise ValueError(f"{group[0].source}: the spec has errors")
        run_spec(loaded.spec, spec_text, probes, group[0].source, report, instances)
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


def probes_of(request: Request) -> list[Probe]:
    """A fuzzed spec's drawn request and the same request on each of EXTRA_PATHS."""
    requests = [request, *(_with_path(request, p) for p in EXTRA_PATHS)]
    return [probe_of(r) for r in requests]


def _with_path(request: Request, path: str) -> Request:
    return Request(
        destination=request.destination,
        target=path,
        method=request.method,
        headers=dict(request.headers),
        port=request.port,
        source=request.source,
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

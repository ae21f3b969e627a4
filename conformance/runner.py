"""Decides, for each case and target: run it, or not supported and why; then records.

Cases are grouped by spec (one case file) so a target that starts real
processes starts them once per spec. A case never passes silently: it
passes only when every probe had something observable and all of it
matched; a target lacking a feature gets NOT_SUPPORTED naming the feature.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace

from conformance.case import LoadedCase, Probe
from conformance.observation import check, expected_json
from conformance.results import CaseResult, ProbeResult, Result, TargetReport
from conformance.targets.base import NotSupported, Session, Target, TargetUnavailable
from meshspec.loader import load_texts
from meshspec.spec import Spec

OnResult = Callable[[CaseResult], None]


def missing_features(case: LoadedCase, target: Target) -> list[str]:
    return sorted(str(f) for f in case.features if str(f) not in target.features)


#: optional target attribute: its column heading in the support matrix
LABEL_ATTRIBUTE = "label"


def missing_reason(missing: Sequence[str], target: Target) -> str:
    """Names the missing features and, where the target says, why it cannot have them."""
    gaps = target.feature_gaps
    named = [f"{f} ({gaps[f]})" if f in gaps else f for f in missing]
    return "missing features: " + "; ".join(named)


def _group_by_spec(cases: Sequence[LoadedCase]) -> list[list[LoadedCase]]:
    groups: dict[tuple[str, int], list[LoadedCase]] = {}
    for case in cases:
        groups.setdefault((case.spec_text, case.instances), []).append(case)
    return list(groups.values())


def _request_json(probe: Probe) -> dict[str, object]:
    out: dict[str, object] = {
        "from": probe.from_ if probe.from_ is not None else "(unauthenticated)",
        "to": probe.to,
        "method": probe.method,
        "path": probe.path,
    }
    if probe.headers:
        out["headers"] = dict(probe.headers)
    if probe.port is not None:
        out["port"] = probe.port
    if probe.count > 1:
        out["count"] = probe.count
    return out


def _result(
    case: LoadedCase, result: Result, reason: str, probes: tuple[ProbeResult, ...] = ()
) -> CaseResult:
    return CaseResult(
        name=case.name,
        profile=case.profile,
        features=tuple(str(f) for f in case.features),
        result=result,
        reason=reason,
        probes=probes,
    )


def run_case(case: LoadedCase, target: Target, session: Session) -> CaseResult:
    probe_results: list[ProbeResult] = []
    blind: list[str] = []
    for index, probe in enumerate(case.case.probes):
        label = probe.label(index)
        try:
            observation = session.probe(probe)
        except Exception as exc:  # a crash in a target is that target's ERROR, never ours
            return _result(
                case, Result.ERROR, f"{label}: {type(exc).__name__}: {exc}", tuple(probe_results)
            )
        checks, unchecked = check(probe, observation, target.observes)
        probe_results.append(
            ProbeResult(
                name=label,
                request=_request_json(probe),
                expected=expected_json(probe.expect),
                observed=observation.to_json(target.observes),
                mismatches=tuple(c.field for c in checks if not c.ok),
                unchecked=tuple(unchecked),
            )
        )
        if not checks:
            blind.append(f"{label} ({', '.join(unchecked)})")
    probes = tuple(probe_results)
    if any(not p.passed for p in probes):
        return _result(case, Result.FAILED, "", probes)
    if blind:
        return _result(
            case, Result.NOT_SUPPORTED, "target cannot observe: " + "; ".join(blind), probes
        )
    return _result(case, Result.PASSED, "", probes)


def _load_spec(case: LoadedCase) -> Spec:
    loaded = load_texts([(f"{case.source}#spec", case.spec_text)])
    if not loaded.ok or loaded.spec is None:
        raise ValueError(f"{case.source}: the spec has errors")
    return loaded.spec


def run_target(
    target: Target, cases: Sequence[LoadedCase], on_result: OnResult | None = None
) -> TargetReport:
    report = TargetReport(
        target=target.name,
        description=target.description,
        features=tuple(sorted(target.features)),
        label=str(getattr(target, LABEL_ATTRIBUTE, "") or target.name),
    )

    def record(result: CaseResult) -> None:
        report.cases.append(result)
        if on_result is not None:
            on_result(result)

    try:
        target.check_available()
    except TargetUnavailable as exc:
        report.unavailable = str(exc) or type(exc).__name__
        for case in cases:
            record(_result(case, Result.NOT_SUPPORTED, f"target unavailable: {report.unavailable}"))
        return report

    for group in _group_by_spec(cases):
        runnable: list[LoadedCase] = []
        for case in group:
            missing = missing_features(case, target)
            if missing:
                record(_result(case, Result.NOT_SUPPORTED, missing_reason(missing, target)))
            else:
                runnable.append(case)
        if not runnable:
            continue
        _run_group(target, runnable, record)
    order = {case.name: i for i, case in enumerate(cases)}
    report.cases.sort(key=lambda result: order[result.name])
    return report


def _run_group(target: Target, group: list[LoadedCase], record: OnResult) -> None:
    stack = ExitStack()
    try:
        first = group[0]
        session = stack.enter_context(
            target.open(_load_spec(first), first.spec_text, instances=first.instances)
        )
    except NotSupported as exc:
        stack.close()
        for case in group:
            record(_result(case, Result.NOT_SUPPORTED, str(exc)))
        return
    except Exception as exc:
        reason = f"cannot start: {type(exc).__name__}: {exc}"
        detail = traceback.format_exc(limit=3)
        stack.close()
        for case in group:
            record(_result(case, Result.ERROR, f"{reason}\n{detail}".strip()))
        return
    results = [run_case(case, target, session) for case in group]
    try:
        stack.close()
    except Exception as exc:  # results stand, but a target that cannot stop cleanly is an error
        results = [
            r
            if r.result is not Result.PASSED
            else replace(r, result=Result.ERROR, reason=f"cannot stop: {type(exc).__name__}: {exc}")
            for r in results
        ]
    for result in results:
        record(result)

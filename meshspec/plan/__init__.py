"""Planning a move between meshes: what changes, and a rollout that keeps traffic working.

The heart of a plan is a comparison of two models, not a reading of
diagnostics: the source mesh's model over its own resources against the
target's model over the compiled resources, on the requests the imported
spec's boundaries and a seeded random walk produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meshspec.adapter import Adapter, NativeDocument, Topology
from meshspec.diagnostics import Diagnostic, has_errors
from meshspec.diff import BEHAVIOUR_FIELDS, DEFAULT_RANDOM, Comparison, compare, guarded
from meshspec.diff.probes import probe_requests
from meshspec.errors import SpecError
from meshspec.plan.rollout import (
    CHECKS_PER_SERVICE,
    Step,
    checks_for,
    relaxed,
    removal,
    waves,
)
from meshspec.plan.summary import AreaSummary, summarize
from meshspec.plan.targets import REFERENCE, compile_for, plan_targets, target_decider
from meshspec.registry import get_adapter
from meshspec.spec import Spec


@dataclass
class Plan:
    source: str
    target: str
    spec: Spec
    import_diagnostics: list[Diagnostic]
    compile_diagnostics: list[Diagnostic]
    comparison: Comparison
    areas: list[AreaSummary]
    steps: list[Step] = field(default_factory=list)


class PlanError(SpecError):
    """The source cannot be imported or the target cannot express it (see diagnostics)."""


def build_plan(
    source: str,
    documents: Sequence[NativeDocument],
    target: str,
    allow_lossy: frozenset[str] = frozenset(),
    seed: int = 0,
    random_count: int = DEFAULT_RANDOM,
    source_adapter: Adapter | None = None,
) -> Plan:
    """`source_adapter`: the source's adapter configured with its account's settings
    (`meshspec.cli_options.configured_source`); by default the registered one."""
    from meshspec.api import apply_lossy_policy

    source_adapter = source_adapter or get_adapter(source)
    if target != REFERENCE:
        get_adapter(target)
    imported = source_adapter.import_resources(documents)
    import_diags = apply_lossy_policy(imported.diagnostics, allow_lossy)
    if imported.spec is None or has_errors(import_diags):
        raise PlanError(f"importing from {source} failed", import_diags)
    spec = imported.spec
    resources, compile_diags = compile_for(target, spec, allow_lossy)
    if has_errors(compile_diags):
        raise PlanError(f"{target} cannot express the imported spec", compile_diags)

    native = [dict(d.data) for d in documents]
    source_model = guarded(source_adapter.model(native, Topology.of(spec)).decide)
    target_model = target_decider(target, resources, spec)
    probes = probe_requests([spec], seed, random_count)
    comparison = compare(
        probes.requests, source_model, target_model, BEHAVIOUR_FIELDS, len(probes.boundary)
    )
    plan = Plan(
        source,
        target,
        spec,
        import_diags,
        compile_diags,
        comparison,
        summarize(spec, comparison.differences, [*import_diags, *compile_diags]),
    )
    plan.steps = _steps(plan, documents, resources, probes.boundary, allow_lossy)
    return plan


def _steps(
    plan: Plan,
    documents: Sequence[NativeDocument],
    final: list[dict[str, Any]],
    requests: Sequence[Any],
    allow_lossy: frozenset[str],
) -> list[Step]:
    spec, target = plan.spec, plan.target
    everyone = list(spec.services)
    steps: list[Step] = []
    moved: set[str] = set()
    beside, _ = compile_for(target, relaxed(spec, moved), allow_lossy)
    decider = target_decider(target, beside, spec)
    steps.append(
        Step(
            "install-beside",
            f"Install {target} beside {plan.source}, mTLS PERMISSIVE, no service moved",
            "the two meshes' identities cannot verify each other yet, so every port must "
            "also accept plaintext",
            beside,
            everyone,
            checks_for(requests, everyone, decider, 1),
        )
    )
    for i, wave in enumerate(waves(spec), 1):
        moved.update(wave)
        resources, _ = compile_for(target, relaxed(spec, moved), allow_lossy)
        decider = target_decider(target, resources, spec)
        steps.append(
            Step(
                f"move-wave-{i}",
                f"Move {len(wave)} service(s) to {target}: "
                + ", ".join(wave[:8])
                + (" ..." if len(wave) > 8 else ""),
                "servers before their callers: a moved server accepts plaintext and mTLS, so "
                "callers still on the source reach it",
                resources,
                wave,
                checks_for(requests, wave, decider, CHECKS_PER_SERVICE),
            )
        )
    decider = target_decider(target, final, spec)
    steps.append(
        Step(
            "tighten",
            "Re-tighten: the source's mTLS modes (STRICT where it was) and default-deny",
            "every service now holds the target's identities, so mTLS can be required again",
            final,
            everyone,
            checks_for(requests, everyone, decider, CHECKS_PER_SERVICE),
        )
    )
    steps.append(
        Step(
            "remove-source",
            f"Remove the {plan.source} resources (delete these)",
            "the target now decides every request; the source's resources only confuse readers",
            removal(plan.source, documents),
            everyone,
            checks_for(requests, everyone, decider, 1),
        )
    )
    return steps


__all__ = ["Plan", "PlanError", "build_plan", "plan_targets"]

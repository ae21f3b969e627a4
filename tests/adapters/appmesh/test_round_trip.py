"""Compile -> import keeps every decision: a spec compiled to App Mesh and imported back
answers every conformance probe as the original does (the oracle decides both), unless
the compile reported a loss; and the App Mesh model over the compiled output agrees with
the oracle on the same probes where the case's features are the adapter's."""

from __future__ import annotations

from functools import cache

import pytest

from adapters.appmesh import adapter
from conformance.library import builtin_cases
from conformance.targets.requests import request_of
from meshspec.adapter import CompileOptions, NativeDocument, Topology, Verdict
from meshspec.diagnostics import Severity
from meshspec.loader import load_texts
from meshspec.semantics import decide
from meshspec.spec import Origin, Spec

#: what a request gets; authorization is App Mesh's declared backends, compared apart
FIELDS = [
    "outcome",
    "status",
    "route",
    "backends",
    "mtls",
    "transport",
    "timeout",
    "retries",
    "breakers",
]


@cache
def case_specs() -> dict[str, Spec]:
    out = {}
    for case in builtin_cases():
        loaded = load_texts([(case.name, case.spec_text)])
        assert loaded.spec is not None
        out[case.name] = loaded.spec
    return out


def lossless(spec: Spec) -> list[dict[str, object]] | None:
    """The compiled resources, when the compile reported nothing lost."""
    result = adapter.compile(spec, CompileOptions())
    if [d for d in result.diagnostics if d.severity in (Severity.ERROR, Severity.WARNING)]:
        return None
    return result.resources


def round_trip(resources: list[dict[str, object]]) -> Spec:
    back = adapter.import_resources(
        [NativeDocument(r, Origin("<compiled>", i)) for i, r in enumerate(resources)]
    )
    errors = [d.render() for d in back.diagnostics if d.severity is Severity.ERROR]
    assert back.spec is not None and not errors, errors
    return back.spec


def test_enough_cases_compile_without_loss() -> None:
    assert sum(1 for spec in case_specs().values() if lossless(spec) is not None) >= 10


def test_compile_then_import_keeps_every_decision() -> None:
    checked = 0
    for case in builtin_cases():
        spec = case_specs()[case.name]
        resources = lossless(spec)
        if resources is None:
            continue  # the compile reports a loss (its diagnostics say which)
        back = round_trip(resources)
        for probe in case.case.probes:
            request = request_of(probe)
            want = Verdict.of(decide(spec, request))
            got = Verdict.of(decide(back, request))
            assert want.differences(got, FIELDS) == {}, (case.name, probe.path, probe.headers)
            # App Mesh restricts callers only by declared backends: never more than the spec
            if want.outcome != "denied":
                assert got.outcome != "denied"
            checked += 1
    assert checked >= 20


def test_priorities_are_unique_and_weights_total_at_most_100() -> None:
    for name, spec in case_specs().items():
        result = adapter.compile(spec, CompileOptions(allow_lossy=frozenset({"all"})))
        for res in result.resources:
            if res["kind"] != "VirtualRouter":
                continue
            routes = res["spec"]["routes"]  # type: ignore[index]
            priorities = [r["priority"] for r in routes]
            assert len(set(priorities)) == len(priorities), name
            for r in routes:
                body = r.get("httpRoute") or r.get("http2Route")
                targets = body["action"]["weightedTargets"]
                total = sum(t["weight"] for t in targets)
                assert 0 < total <= 100 and all(0 <= t["weight"] <= 100 for t in targets)
                assert len(targets) <= 10
                assert "retryPolicy" in body, "the hidden default must never apply"


def test_the_model_over_compiled_output_agrees_with_the_oracle() -> None:
    """Differential: where the case's features are App Mesh's and the compile lost
    nothing, the model (App Mesh's documented behaviour) decides as the oracle does."""
    checked = 0
    for case in builtin_cases():
        if not set(case.case.features) <= set(adapter.features):
            continue
        spec = case_specs()[case.name]
        resources = lossless(spec)
        if resources is None:
            continue
        model = adapter.model(resources, Topology.of(spec))
        names = adapter.neutral_names(resources)
        for probe in case.case.probes:
            request = request_of(probe)
            want = Verdict.of(decide(spec, request))
            got = model.decide(request)
            route = None if got.route is None else (names.get(got.route, got.route) or None)
            fields = [f for f in FIELDS if f != "route"]
            if want.outcome != "forwarded":  # who would have answered is not observed
                fields.remove("backends")
                fields.remove("breakers")
            diff = want.differences(got, fields)
            assert diff == {}, (case.name, probe.path, diff)
            assert route == want.route, (case.name, probe.path)
            checked += 1
    assert checked >= 15


@pytest.mark.parametrize(
    ("weights", "written", "exact"),
    [
        ([90, 10], [90, 10], True),
        ([1, 3], [25, 75], True),
        ([1, 1, 1], [1, 1, 1], True),  # a third each: relative weights, total 3
        ([2, 2, 2], [1, 1, 1], True),
        ([333, 334, 333], [33, 34, 33], False),  # needs more than 100: rounded, reported
        ([0, 0], [50, 50], False),
    ],
)
def test_weights_are_app_mesh_integers(weights: list[int], written: list[int], exact: bool) -> None:
    from adapters.appmesh._compile_api import app_mesh_weights

    assert app_mesh_weights(weights) == (written, exact)

"""Differential properties on random specs (the conformance fuzzer's generator):

* the Consul model over the compiled entries answers as the oracle does, except where a
  compile diagnostic says Consul differs (each exception below names its code);
* compiling and importing back keeps every decision the oracle makes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.consul.importer import import_consul
from conformance.fuzz import scenarios
from meshspec.adapter import CompileOptions, NativeDocument, Topology, Verdict
from meshspec.codecs import dump_yaml
from meshspec.loader import load_texts
from meshspec.registry import get_adapter
from meshspec.semantics import Request, decide
from meshspec.spec import Origin, Spec

ADAPTER = get_adapter("consul")
FIELDS = ["outcome", "status", "route", "backends", "authz", "mtls", "transport", "timeout"]
FIELDS += ["retries", "breakers", "headers"]


def _strict(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scenario with STRICT mTLS everywhere: what Consul expresses, so that the other
    policies get compared more often."""
    out = []
    for doc in docs:
        spec = {k: v for k, v in (doc.get("spec") or {}).items() if k != "mtls"}
        if doc["kind"] == "Mesh":
            spec["mtls"] = {"mode": "STRICT"}
        out.append({**doc, "spec": spec} if doc.get("spec") is not None else doc)
    return out


def _load(docs: list[dict[str, Any]]) -> Spec | None:
    loaded = load_texts([("fuzz.yaml", dump_yaml(docs))])
    return loaded.spec if loaded.ok else None


def _compared(compiled: Any, spec: Spec, request: Request) -> list[str] | None:
    """The fields to compare: all but those the adapter says its findings announce."""
    excused = ADAPTER.known_differences(compiled.diagnostics, spec, request)  # type: ignore[attr-defined]
    return None if excused is None else [f for f in FIELDS if f not in excused]


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios(adversarial=True), st.booleans())
def test_the_consul_model_answers_as_the_oracle_unless_a_diagnostic_says_why_not(
    scenario: tuple[list[dict[str, Any]], Request], strict: bool
) -> None:
    docs, request = scenario
    spec = _load(_strict(docs) if strict else docs)
    if spec is None:
        return
    compiled = ADAPTER.compile(spec, CompileOptions())
    if any(d.severity == "error" for d in compiled.diagnostics):
        return
    fields = _compared(compiled, spec, request)
    if fields is None:
        return
    expected = Verdict.of(decide(spec, request))
    got = ADAPTER.model(compiled.resources, Topology.of(spec)).decide(request)
    names = ADAPTER.neutral_names(compiled.resources)

    def neutral(name: str | None) -> str | None:
        return None if name is None else (names.get(name, name) or None)

    got = replace(got, route=neutral(got.route), authz_rule=neutral(got.authz_rule))
    assert expected.differences(got, fields) == {}, dump_yaml(docs)
    if "authz" in fields and expected.authz is not None:
        assert expected.authz_rule == got.authz_rule


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios(), st.sampled_from(["/", "/a", "/a/b", "/api/v1", "/apix", "/ab?q=1"]))
def test_compile_then_import_keeps_every_decision(
    scenario: tuple[list[dict[str, Any]], Request], target: str
) -> None:
    docs, request = scenario
    spec = _load(_strict(docs))
    if spec is None:
        return
    compiled = ADAPTER.compile(spec, CompileOptions())
    if any(d.severity == "error" for d in compiled.diagnostics):
        return
    native = [NativeDocument(r, Origin("<compiled>", i)) for i, r in enumerate(compiled.resources)]
    back = import_consul(native)
    assert back.spec is not None
    assert not [d.render() for d in back.diagnostics if d.severity == "error"]
    # the imported services have Consul's one port; ask without naming one
    request = replace(request, port=None, target=target)
    if request.source is None:
        return  # plaintext clients: the import keeps the mesh's mode, checked above
    fields = _compared(compiled, spec, request)
    if fields is None:
        return
    fields = [f for f in fields if f not in ("mtls", "transport")]
    before = Verdict.of(decide(spec, request))
    after = Verdict.of(decide(back.spec, request))
    assert before.differences(after, fields) == {}, dump_yaml(docs) + dump_yaml(back.documents)

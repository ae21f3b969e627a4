"""The adapter contract (`meshspec.adapter.Adapter`), held against every registered
adapter and against Ferry, the skeleton adapter of a fake mesh (`tests/adapters/skeleton`).

What is checked is what a caller relies on without reading the adapter: the
features divide the whole vocabulary; every code it emits is its own and
documented; the kinds agree between compiler, importer, cluster reader and
`apply --prune`; a security loss is an error unless allowed, even when the
adapter is called directly; the output is the same bytes every time.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from adapters.cli import prune_kinds
from conformance.library import builtin_cases
from conformance.results import Result
from conformance.runner import run_target
from conformance.targets.model import ModelTarget
from meshspec.adapter import (
    SECURITY_AREAS,
    Adapter,
    CompileOptions,
    CompileResult,
    NativeDocument,
    apply_lossy_policy,
)
from meshspec.codecs import dump_yaml
from meshspec.codes import CATALOGUE, number
from meshspec.diagnostics import Diagnostic, Severity
from meshspec.features import ALL_FEATURES
from meshspec.loader import load_texts
from meshspec.native import read_native
from meshspec.registry import available_targets, get_adapter
from meshspec.spec import Origin, Spec
from tests.adapters.skeleton import adapter as ferry
from tests.adapters.validator import REPO_ROOT
from tests.fixtures.realservers import upstream_dir

ADAPTERS: list[Adapter] = [*(get_adapter(n) for n in available_targets()), ferry]
ALLOW_ALL = CompileOptions(allow_lossy=frozenset({"all"}))
WITH_WORKLOADS = CompileOptions(allow_lossy=frozenset({"all"}), workloads=True)


def each_adapter() -> pytest.MarkDecorator:
    return pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)


@cache
def corpus() -> tuple[tuple[str, Spec, str], ...]:
    """(name, spec, text) for every example, a spec that asks for hard things, and every
    conformance case's spec."""
    files = [*examples(), Path(__file__).with_name("demanding.yaml")]
    texts = {p.relative_to(REPO_ROOT).as_posix(): p.read_text() for p in files}
    for case in builtin_cases():
        texts.setdefault(f"case {case.name}", case.spec_text)
    out = []
    for name, text in sorted(texts.items()):
        loaded = load_texts([(name, text)])
        assert loaded.ok and loaded.spec is not None, name
        out.append((name, loaded.spec, text))
    return tuple(out)


def examples() -> list[Path]:
    return sorted((REPO_ROOT / "examples").glob("*/mesh.yaml"))


@cache
def compiled(adapter: Adapter, options: CompileOptions) -> tuple[CompileResult, ...]:
    return tuple(adapter.compile(spec, options) for _, spec, _ in corpus())


def as_native(resources: list[dict[str, object]]) -> list[NativeDocument]:
    return [NativeDocument(r, Origin("<compiled>", i)) for i, r in enumerate(resources)]


def imports(adapter: Adapter) -> bool:
    """False for a compile-only target (`imports = False`, e.g. vpc-lattice)."""
    return bool(getattr(adapter, "imports", True))


def emitted(adapter: Adapter) -> Iterator[Diagnostic]:
    """Every finding of compiling the corpus and importing the output (with the platform
    objects it assumes) back."""
    yield from (d for result in compiled(adapter, CompileOptions()) for d in result.diagnostics)
    for result in compiled(adapter, WITH_WORKLOADS):
        yield from adapter.import_resources(as_native(result.resources)).diagnostics


def published(adapter: Adapter) -> list[Path]:
    """The mesh project's own example files, where the shared upstream data has them."""
    folder = upstream_dir() / "examples" / adapter.name
    return sorted(folder.rglob("*.yaml")) if folder.is_dir() else []


def documentation(adapter: Adapter) -> str:
    """The adapter package's README, where its codes are listed."""
    module = sys.modules[type(adapter).__module__]
    assert module.__file__ is not None
    return (Path(module.__file__).parent / "README.md").read_text(encoding="utf-8")


@each_adapter()
def test_it_is_an_adapter(adapter: Adapter) -> None:
    assert isinstance(adapter, Adapter)
    assert adapter.name and adapter.description and adapter.mesh_version
    assert adapter.kinds and len(set(adapter.kinds)) == len(adapter.kinds)
    assert adapter.injection.labels or adapter.injection.annotations


@each_adapter()
def test_features_and_unsupported_features_divide_the_vocabulary(adapter: Adapter) -> None:
    claimed, lacking = set(adapter.features), set(adapter.unsupported_features)
    assert not claimed & lacking, "both claimed and unsupported"
    assert claimed | lacking == set(ALL_FEATURES), "features of neither kind"
    assert claimed | lacking <= ALL_FEATURES, "not in the vocabulary"
    assert all(reason.strip() for reason in adapter.unsupported_features.values())


@each_adapter()
def test_its_code_block_is_its_own_and_documented(adapter: Adapter) -> None:
    block = adapter.codes
    assert block.first >= 1000 and block.first % 1000 == 0 and block.last == block.first + 999
    # one package owns a block; targets of one package (consul, consul-k8s) share it
    package = type(adapter).__module__.rsplit(".", 1)[0]
    others = [a for a in ADAPTERS if type(a).__module__.rsplit(".", 1)[0] != package]
    assert all(block.last < a.codes.first or a.codes.last < block.first for a in others)
    readme = documentation(adapter)
    registered = block.registered()
    assert registered
    assert [c.code for c in registered if c.code not in readme] == []


@each_adapter()
def test_every_code_it_emits_lies_in_its_block(adapter: Adapter) -> None:
    readme = documentation(adapter)
    codes = {d.code for d in emitted(adapter)}
    # An import also reports what meshspec's own validation finds in the neutral spec
    # it produced (MS1xx-MS2xx, documented with the spec); every other code is the
    # adapter's own.
    foreign = sorted(c for c in codes if c not in adapter.codes)
    assert [c for c in foreign if int(c[2:]) >= 300] == []
    codes -= set(foreign)
    assert sorted(c for c in codes if c not in CATALOGUE or CATALOGUE[c].retired) == []
    assert sorted(c for c in codes if c not in readme) == []


@each_adapter()
def test_importing_the_meshs_published_examples_emits_only_its_codes(adapter: Adapter) -> None:
    """Real configurations, valid and invalid: findings, never a crash or a foreign code."""
    readme = documentation(adapter)
    for path in published(adapter):
        docs, _ = read_native([str(path)])
        codes = {d.code for d in adapter.import_resources(docs).diagnostics}
        assert sorted(c for c in codes if c not in adapter.codes or c not in readme) == [], path


@each_adapter()
def test_compile_honours_allow_lossy_itself(adapter: Adapter) -> None:
    """Called directly, a security loss is an error; allowed, a warning; output the same."""
    strict = compiled(adapter, CompileOptions())
    lossy = compiled(adapter, ALLOW_ALL)
    for (name, _, _), fail, allow in zip(corpus(), strict, lossy, strict=True):
        for d in fail.diagnostics:
            if d.area in SECURITY_AREAS and CATALOGUE[d.code].severity is Severity.ERROR:
                assert d.severity is Severity.ERROR, (name, d.render())
        assert allow.diagnostics == apply_lossy_policy(fail.diagnostics, ["all"]), name
        assert allow.resources == fail.resources, name


def test_a_security_loss_fails_closed_when_the_adapter_is_called_directly() -> None:
    """Ferry has no authorization: the example with authorization does not compile quietly."""
    spec = next(spec for _, spec, _ in corpus() if any(s.spec.authorization for s in spec))
    assert any(
        d.severity is Severity.ERROR for d in ferry.compile(spec, CompileOptions()).diagnostics
    )
    assert not any(d.severity is Severity.ERROR for d in ferry.compile(spec, ALLOW_ALL).diagnostics)


@each_adapter()
def test_kinds_agree_between_compiler_importer_cluster_reader_and_prune(adapter: Adapter) -> None:
    order = {(k.api_version, k.kind): i for i, k in enumerate(adapter.kinds)}
    for (name, _, _), result in zip(corpus(), compiled(adapter, ALLOW_ALL), strict=True):
        written = [(str(r["apiVersion"]), str(r["kind"])) for r in result.resources]
        assert set(written) <= set(order), name
        ranks = [order[k] for k in written]
        assert ranks == sorted(ranks), f"{name}: not in apply order"
    for (name, _, _), result in zip(corpus(), compiled(adapter, WITH_WORKLOADS), strict=True):
        # what a cluster would hold: the resources and the platform objects they assume
        back = adapter.import_resources(as_native(result.resources))
        errors = [d.render() for d in back.diagnostics if d.severity is Severity.ERROR]
        if not imports(adapter):
            # compile only: refused with one error of its own, never a half-read spec
            assert back.spec is None and errors and back.documents == [], name
            assert all(d.code in adapter.codes for d in back.diagnostics), name
            continue
        assert back.spec is not None and not errors, (name, errors)
    if adapter.cluster is not None:
        assert set(adapter.kinds) <= set(adapter.cluster.kinds)
    assert set(prune_kinds([], adapter)) == set(adapter.kinds)


@each_adapter()
def test_compile_is_deterministic(adapter: Adapter) -> None:
    for name, _, text in corpus():
        runs = []
        for _ in range(2):
            spec = load_texts([(name, text)]).spec
            assert spec is not None
            result = adapter.compile(spec, ALLOW_ALL)
            runs.append((dump_yaml(result.resources), [d.render() for d in result.diagnostics]))
        assert runs[0] == runs[1], name


@each_adapter()
def test_each_other_form_compiles_the_examples_deterministically(adapter: Adapter) -> None:
    """A form (`compile -o FORM`) is a whole second output: it must write something for
    a spec the adapter compiles, the same each time, and with the same security findings."""
    for name, _, text in corpus():
        spec = load_texts([(name, text)]).spec
        assert spec is not None
        native = adapter.compile(spec, ALLOW_ALL)
        for form in adapter.forms:
            options = replace(ALLOW_ALL, form=form)
            first, second = adapter.compile(spec, options), adapter.compile(spec, options)
            assert dump_yaml(first.resources) == dump_yaml(second.resources), (name, form)
            if native.resources:
                assert first.resources, (name, form)
            # a security loss of the native output is not silently gone from the form
            lost = {d.area for d in native.diagnostics if d.area in ("mtls", "authz")}
            assert lost <= {d.area for d in first.diagnostics}, (name, form)


@each_adapter()
def test_neutral_names_name_routes_and_rules_of_the_spec(adapter: Adapter) -> None:
    for (name, spec, _), result in zip(corpus(), compiled(adapter, ALLOW_ALL), strict=True):
        neutral = {""}
        for svc in spec:
            neutral |= {r.name for r in svc.spec.routes}
            authz = svc.spec.authorization
            neutral |= {r.name for r in authz.rules} if authz is not None else set()
        names = adapter.neutral_names(result.resources)
        assert set(names.values()) <= neutral, name


def test_the_skeleton_passes_every_case_it_claims() -> None:
    """Ferry is a real adapter, not a stub: the suite runs its model on every case whose
    features it claims and whose spec it can compile; the rest are not supported, with
    Ferry's reason."""
    report = run_target(ModelTarget(ferry.name, adapter=ferry), builtin_cases())
    results = {c.name: c for c in report.cases}
    assert not [c.name for c in report.cases if c.result in (Result.FAILED, Result.ERROR)], [
        (c.name, c.reason) for c in report.cases if c.result is not Result.PASSED
    ][:5]
    passed = [c for c in results.values() if c.result is Result.PASSED]
    assert len(passed) >= 5
    lacking = [c for c in results.values() if c.result is Result.NOT_SUPPORTED]
    # either a feature Ferry lacks, with its reason, or a spec it cannot compile, with its code
    assert lacking and all("Ferry" in c.reason or "(MS9" in c.reason for c in lacking)


def test_codes_outside_any_block_are_meshspecs_own() -> None:
    """Below MS1000 the codes are meshspec's; the retired MS3xx and MS4xx stay retired."""
    retired = sorted(c.code for c in CATALOGUE.values() if c.retired)
    assert retired == [f"MS{n}" for n in (301, 302, 303, 304, 401, 402, 403, 404, 405, 406)]
    assert all(number(c) > 0 for c in CATALOGUE)

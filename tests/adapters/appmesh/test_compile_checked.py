"""Every compiled App Mesh output is checked by the tools App Mesh's users rely on:
the CloudFormation template by cfn-lint (AWS's linter, with the AWS::AppMesh resource
schemas), the controller resources by a real Kubernetes API server holding the App
Mesh controller's CRDs (server-side apply, dry run)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from adapters.appmesh import adapter
from adapters.appmesh.cloudformation import compile_template
from conformance.library import builtin_cases
from meshspec.adapter import CompileOptions
from meshspec.loader import load_paths, load_texts
from meshspec.spec import Spec
from tests.adapters.validator import REPO_ROOT
from tests.fixtures.realservers import upstream_dir

LOSSY = CompileOptions(allow_lossy=frozenset({"all"}))


@cache
def corpus() -> tuple[tuple[str, Spec], ...]:
    out = []
    for path in [
        *sorted((REPO_ROOT / "examples").glob("*/mesh.yaml")),
        REPO_ROOT / "tests" / "adapters" / "demanding.yaml",
    ]:
        spec = load_paths([str(path)]).spec
        assert spec is not None, path
        out.append((path.relative_to(REPO_ROOT).as_posix(), spec))
    for case in builtin_cases():
        spec = load_texts([(case.name, case.spec_text)]).spec
        assert spec is not None
        out.append((case.name, spec))
    return tuple(out)


def test_every_compiled_template_passes_cfn_lint() -> None:
    from cfnlint.api import ManualArgs, lint

    # W3696: App Mesh's end of support, which the template cannot change
    config = ManualArgs(regions=["eu-west-1"], ignore_checks=["W3696"])
    seen = set()
    for name, spec in corpus():
        template, _ = compile_template(spec)
        text = json.dumps(template, indent=1, sort_keys=True)
        if text in seen:
            continue
        seen.add(text)
        found = [f"{m.rule.id} {m.message} at {m.path}" for m in lint(text, config=config)]
        assert found == [], name
    assert len(seen) >= 10


def test_cfn_lint_would_catch_a_wrong_template() -> None:
    """The check is real: a field App Mesh lacks and a retry count of the wrong type fail."""
    from cfnlint.api import ManualArgs, lint

    template, _ = compile_template(corpus()[0][1])
    route = next(r for r in template["Resources"].values() if r["Type"] == "AWS::AppMesh::Route")
    body = route["Properties"]["Spec"]["HttpRoute"]
    body["RetryPolicy"]["MaxRetries"] = "two"
    body["Match"]["Colour"] = "blue"
    found = {
        m.rule.id
        for m in lint(
            json.dumps(template), config=ManualArgs(regions=["eu-west-1"], ignore_checks=["W3696"])
        )
    }
    assert {"E3002", "E3012"} <= found


def crd_paths() -> list[Path]:
    return sorted((upstream_dir() / "crds" / "appmesh").glob("*.yaml"))


@pytest.mark.realservers
def test_every_compiled_resource_is_accepted_by_the_controller_crds(kube_apiserver: Any) -> None:
    from tests.fixtures.realservers import apply_documents, install_crds

    install_crds(kube_apiserver, crd_paths())
    namespaces: set[str] = set()
    checked = 0
    for name, spec in corpus():
        resources = adapter.compile(spec, LOSSY).resources
        wanted = {
            str(r["metadata"]["namespace"])
            for r in resources  # type: ignore[index]
            if "namespace" in r["metadata"]
        } - namespaces  # type: ignore[operator]
        if wanted:
            ns_docs = [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                for n in sorted(wanted)
            ]
            assert all(r.ok for r in apply_documents(kube_apiserver, ns_docs, dry_run=False))
            namespaces |= wanted
        results = apply_documents(kube_apiserver, resources, dry_run=True)
        refused = [
            (r.doc["kind"], r.doc["metadata"]["name"], r.message) for r in results if not r.ok
        ]
        assert refused == [], name
        checked += len(results)
    assert checked >= 100


@pytest.mark.realservers
def test_the_api_server_refuses_what_the_crds_forbid(kube_apiserver: Any) -> None:
    """The check is real: a weight above 100 and an unknown route kind are refused."""
    from tests.fixtures.realservers import apply_documents, install_crds

    install_crds(kube_apiserver, crd_paths())
    resources = adapter.compile(corpus()[0][1], LOSSY).resources
    router = next(r for r in resources if r["kind"] == "VirtualRouter")
    bad = json.loads(json.dumps(router))
    bad["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"][0]["weight"] = 101
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": router["metadata"]["namespace"]},
    }
    apply_documents(kube_apiserver, [ns], dry_run=False)
    [result] = apply_documents(kube_apiserver, [bad], dry_run=True)
    assert not result.ok and "101" in result.message

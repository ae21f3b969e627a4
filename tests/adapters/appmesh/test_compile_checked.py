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
import yaml

from adapters.appmesh import adapter
from adapters.appmesh.cloudformation import compile_template
from conformance.library import builtin_cases
from meshspec.adapter import CompileOptions, NativeDocument
from meshspec.loader import load_paths, load_texts
from meshspec.spec import Origin, Spec
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


@pytest.mark.realservers
def test_import_live_reads_the_controller_resources_back(kube_apiserver: Any) -> None:
    """Applied for real, read back with `import --from appmesh --kubeconfig`: the same
    neutral spec as importing the compiled files."""
    from click.testing import CliRunner

    from meshspec.cli import cli
    from tests.fixtures.realservers import apply_documents, install_crds

    install_crds(kube_apiserver, crd_paths())
    spec = load_paths([str(REPO_ROOT / "examples" / "canary" / "mesh.yaml")]).spec
    assert spec is not None
    resources = adapter.compile(spec, LOSSY).resources
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert all(r.ok for r in apply_documents(kube_apiserver, [ns], dry_run=False))
    assert all(r.ok for r in apply_documents(kube_apiserver, resources, dry_run=False))
    config = str(kube_apiserver.kubeconfig)
    live = CliRunner().invoke(cli, ["import", "--from", "appmesh", "--kubeconfig", config])
    assert live.exit_code == 0, live.output
    from_files = adapter.import_resources(
        [NativeDocument(r, Origin("<compiled>", i)) for i, r in enumerate(resources)]
    )
    assert list(yaml.safe_load_all(live.stdout)) == from_files.documents


def test_the_cloudformation_form_imports_as_the_controller_form(tmp_path: Path) -> None:
    """`compile -o cloudformation` and the controller resources are one mesh: both import
    to the same neutral spec, but for the versions' pod labels, which App Mesh's API does
    not hold (MS3510 says so)."""
    from click.testing import CliRunner

    from meshspec.cli import cli

    example = str(REPO_ROOT / "examples" / "canary" / "mesh.yaml")
    runner = CliRunner()
    template = runner.invoke(cli, ["compile", "-t", "appmesh", "-o", "cloudformation", example])
    crds = runner.invoke(cli, ["compile", "-t", "appmesh", example])
    assert template.exit_code == 0 and crds.exit_code == 0, template.output
    (tmp_path / "template.yaml").write_text(template.stdout)
    (tmp_path / "crds.yaml").write_text(crds.stdout)
    imported = [
        runner.invoke(cli, ["import", "--from", "appmesh", str(tmp_path / name)])
        for name in ("template.yaml", "crds.yaml")
    ]
    assert [r.exit_code for r in imported] == [0, 0], imported[0].output
    assert "MS3510" in template.stderr
    without_labels = [
        {
            **d,
            "spec": {
                **d["spec"],
                "versions": [
                    {k: v for k, v in version.items() if k != "labels"}
                    for version in d["spec"].get("versions", [])
                ],
            },
        }
        for d in yaml.safe_load_all(imported[1].stdout)
    ]
    for doc in without_labels:
        if not doc["spec"]["versions"]:
            del doc["spec"]["versions"]
    assert list(yaml.safe_load_all(imported[0].stdout)) == without_labels

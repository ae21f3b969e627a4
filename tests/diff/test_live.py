"""`meshspec diff --live` and `meshspec plan --live` against a real Kubernetes API server.

The cluster is one of this module's own (etcd and kube-apiserver, Istio's CRDs),
holding the canary example's compiled Istio resources and the workloads they
assume, so nothing another test applies can show up as a difference. The live
side must read as the files it was applied from, and an edit must show exactly
the differences the neutral specs themselves have.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshspec.cli import main
from tests.fixtures.realservers import (
    KubeAPIServer,
    apply_documents,
    install_crds,
    start_local_cluster,
    upstream_dir,
)

pytestmark = pytest.mark.realservers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "canary" / "mesh.yaml"


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text
        return text.replace(old, new)

    return edit


def _swap_first_routes(text: str) -> str:
    testers, payments = text.index("    - name: testers\n"), text.index("    - name: payments\n")
    default = text.index("    - name: default\n")
    return text[:testers] + text[payments:default] + text[testers:payments] + text[default:]


#: name -> (the edit of the example's text, the kinds of difference it makes)
EDITS: dict[str, tuple[Callable[[str], str], set[str]]] = {
    "weights": (_replace("weight: 90", "weight: 70"), {"traffic"}),
    "mtls-relaxed": (
        _replace("name: shop\nspec:\n", "name: shop\nspec:\n  mtls: {mode: DISABLE}\n"),
        {"security"},
    ),
    "timeout": (_replace("timeout: 3s", "timeout: 4s"), {"resilience"}),
    # Route precedence is by specificity, not list order: the same meaning.
    "reordered-routes": (_swap_first_routes, set()),
}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _compile(spec: Path, out: Path) -> Path:
    code = main(["compile", "-t", "istio", str(spec), "--with-workloads", "--output-dir", str(out)])
    assert code == 0
    return out


def _documents(directory: Path) -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(directory.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live")


@pytest.fixture(scope="module")
def applied(workdir: Path) -> Path:
    """The canary example compiled for Istio, with its workloads: what the cluster holds."""
    return _compile(EXAMPLE, workdir / "applied")


@pytest.fixture(scope="module")
def cluster(workdir: Path, applied: Path) -> Iterator[KubeAPIServer]:
    with start_local_cluster(workdir / "cluster") as server:
        install_crds(server, [upstream_dir() / "crds" / "istio" / "crd-all.gen.yaml"])
        docs = _documents(applied)
        namespaces = {d["metadata"].get("namespace") for d in docs} - {None}
        namespace_docs = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            for ns in sorted(namespaces)
        ]
        results = apply_documents(server, [*namespace_docs, *docs], dry_run=False)
        assert all(r.ok for r in results), [str(r) for r in results if not r.ok]
        yield server


@pytest.fixture
def kubeconfig(cluster: KubeAPIServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cluster as kubectl finds it: $KUBECONFIG, its current context."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    return cluster.kubeconfig


def _edited(tmp_path: Path, edit: str) -> Path:
    path = tmp_path / f"{edit}.yaml"
    path.write_text(EDITS[edit][0](EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def _differences(report: dict[str, Any]) -> list[str]:
    """Each difference by what changed where, with both answers. The request shown and
    the count stand for a group of probes; the probes come from both sides' structure,
    which an import may word differently (the same meaning), so they are left out."""
    return sorted(
        json.dumps(
            [d["category"], d["request"]["destination"], d["changes"], d["old"], d["new"]],
            sort_keys=True,
        )
        for d in report["differences"]
    )


def test_the_cluster_reads_as_the_files_it_was_applied_from(
    kubeconfig: Path, applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "diff", "--from", "istio", "--live", str(applied))
    assert code == 0, err
    assert out.startswith("no differences:") and "requests checked" in out
    # ... and as the neutral spec they were compiled from, both ways round.
    for sides in (["--live", str(EXAMPLE)], [str(EXAMPLE), "live:"]):
        code, out, err = _run(capsys, "diff", "--from", "istio", *sides, "--fail-on", "any")
        assert (code, out.split(":")[0]) == (0, "no differences"), err
    assert "Traceback" not in err


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_live_against_an_edit_shows_exactly_the_edit(
    edit: str, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = _edited(tmp_path, edit)
    code, out, _ = _run(capsys, "diff", str(EXAMPLE), str(edited), "-o", "json")
    expected = json.loads(out)
    assert {d["category"] for d in expected["differences"]} == EDITS[edit][1]
    compiled = _compile(edited, tmp_path / "compiled")
    capsys.readouterr()
    for new in (str(edited), str(compiled)):
        code, out, err = _run(capsys, "diff", "--from", "istio", "--live", new, "-o", "json")
        assert code == 0, err
        report = json.loads(out)
        assert (report["old"], report["new"]) == ("live", new)
        assert _differences(report) == _differences(expected)


def test_fail_on_gates_a_relaxed_mtls_against_the_cluster(
    kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = _edited(tmp_path, "mtls-relaxed")
    args = ["diff", "--from", "istio", "--live", str(edited), "-o", "markdown"]
    code, out, _ = _run(capsys, *args, "--fail-on", "security")
    assert code == 1
    assert "`live` → `" in out and "security" in out


def test_a_context_names_the_cluster(
    cluster: KubeAPIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """live:CONTEXT and --context read that context; the current one is not asked."""
    config = json.loads(cluster.kubeconfig.read_text())
    nowhere = {"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}}
    config["clusters"].append(nowhere)
    config["contexts"].append(
        {"name": "nowhere", "context": {"cluster": "nowhere", "user": "meshspec-admin"}}
    )
    config["current-context"] = "nowhere"
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    base = ["diff", "--from", "istio", "--kubeconfig", str(path)]
    assert _run(capsys, *base, "live:meshspec", str(EXAMPLE), "--fail-on", "any")[0] == 0
    code, out, _ = _run(
        capsys, *base, "--context", "meshspec", "--live", str(EXAMPLE), "-o", "json"
    )
    assert (code, json.loads(out)["old"]) == (0, "live:meshspec")
    code, _, err = _run(capsys, *base, "--live", str(EXAMPLE))
    assert code == 1
    assert "cannot reach the Kubernetes API server at https://127.0.0.1:1" in err
    assert "cannot read the cluster (live)" in err and "Traceback" not in err
    code, _, err = _run(capsys, *base, "live:no-such-context", str(EXAMPLE))
    assert code == 1 and "no-such-context" in err and "Traceback" not in err


def test_plan_from_the_live_cluster_is_the_plan_from_its_files(
    kubeconfig: Path, applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live_dir, files_dir = tmp_path / "live", tmp_path / "files"
    common = ["plan", "--from", "istio", "--to", "reference", "-o", "json"]
    code, out, err = _run(capsys, *common, "--live", "--output-dir", str(live_dir))
    assert code == 0, err
    from_live = json.loads(out)
    code, out, err = _run(capsys, *common, str(applied), "--output-dir", str(files_dir))
    assert code == 0, err
    from_files = json.loads(out)
    assert from_live["comparison"]["differences"], "the move to reference changes something"
    for key in ("services", "summary", "comparison", "steps"):
        assert from_live[key] == from_files[key], key
    removed = yaml.safe_load_all((live_dir / "steps/04-remove-source/resources.yaml").read_text())
    assert {d["kind"] for d in removed if d} == {
        "VirtualService",
        "DestinationRule",
        "PeerAuthentication",
    }
    for step in from_live["steps"]:
        written = (live_dir / step["directory"] / "resources.yaml").read_text()
        assert written == (files_dir / step["directory"] / "resources.yaml").read_text()

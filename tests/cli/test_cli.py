"""The `meshspec` command end to end: output, exit codes, no tracebacks, no half writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from meshspec import cli
from meshspec.adapter import CompileOptions, CompileResult
from meshspec.cli import main
from meshspec.spec import Spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir())
BOOKINFO = str(ROOT / "examples" / "bookinfo" / "mesh.yaml")
BROKEN = """apiVersion: meshspec.io/v1alpha1
kind: Service
metadata:
  name: svc
spec:
  routes:
    - name: r
      backends:
        - service: ghost
"""


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_validate_clean(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    code, out, _err = _run(capsys, "validate", str(example / "mesh.yaml"), "-o", "json")
    assert (code, json.loads(out)) == (0, [])
    assert (example / "README.md").is_file()


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_fit_the_json_schema(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    from ruamel.yaml import YAML

    code, out, _ = _run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    docs = list(YAML(typ="safe", pure=True).load_all((example / "mesh.yaml").read_text()))
    assert docs
    for doc in docs:
        assert list(validator.iter_errors(doc)) == []


def test_the_schema_rejects_what_the_loader_rejects(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "schema")
    validator = jsonschema.Draft202012Validator(json.loads(out))
    bad = {
        "apiVersion": "meshspec.io/v1alpha1",
        "kind": "Service",
        "metadata": {"name": "a"},
        "spec": {"portz": []},
    }
    assert list(validator.iter_errors(bad))


def test_validate_json_lists_findings_with_positions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN)
    code, out, _ = _run(capsys, "validate", str(f), "-o", "json")
    assert code == 1
    [finding] = json.loads(out)
    assert {k: finding[k] for k in ("code", "severity", "file", "line", "column", "path")} == {
        "code": "MS204",
        "severity": "error",
        "file": str(f),
        "line": 9,
        "column": 11,
        "path": "spec.routes[0].backends[0].service",
    }
    assert finding["message"]


def test_validate_text_names_file_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN)
    code, _, err = _run(capsys, "validate", str(f))
    assert code == 1
    assert f"{f}:9:11: error MS204" in err
    assert "hint: services: default/svc" in err
    assert "1 services, 1 errors, 0 warnings" in err


def test_validate_directory_and_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "validate", str(ROOT / "examples"))[0] == 1  # three meshes together
    code, _, err = _run(capsys, "validate", "no/such/file.yaml")
    assert code == 1 and "MS101" in err


def test_validate_reads_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    import io

    class _Stdin:
        buffer = io.BytesIO(BROKEN.encode())

    monkeypatch.setattr(sys, "stdin", _Stdin())
    code, out, _ = _run(capsys, "validate", "-", "-o", "json")
    assert code == 1
    assert json.loads(out)[0]["file"] == "<stdin>"


def test_explain_json_has_the_whole_decision(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "explain",
        BOOKINFO,
        "--from",
        "productpage",
        "--to",
        "reviews",
        "--path",
        "/reviews/1",
        "-o",
        "json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["route"] == "canary" and d["status"] is None
    assert [(b["service"], b["version"], b["weight"]) for b in d["backends"]] == [
        ("default/reviews", "v1", 50),
        ("default/reviews", "v3", 50),
    ]
    assert d["authz"] == {
        "decision": "allow",
        "rule": "productpage-reads",
        "reason": "ALLOW rule matched",
    }
    assert (d["mtls"], d["timeout"], d["retries"]["attempts"]) == ("STRICT", "10s", 0)


def test_explain_text_for_a_denied_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "explain", BOOKINFO, "--from", "details", "--to", "ratings", "--path", "/ratings/0"
    )
    assert code == 0
    assert "denied (HTTP 403)" in out and "retries   2" in out


@pytest.mark.parametrize(
    "args",
    [
        ["explain", BOOKINFO, "--to", "reviews", "--path", "/"],
        ["explain", BOOKINFO, "--from", "productpage", "--to", "nothing", "--path", "/"],
        ["explain", BOOKINFO, "--from", "productpage", "--to", "reviews", "--path", "/", "-H", "x"],
        ["compile", "--target", "istoi", BOOKINFO],
        ["import", "--from", "nomesh", BOOKINFO],
        ["validate"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert _run(capsys, *args)[0] == 2


def test_unknown_target_suggests_and_lists(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = _run(capsys, "compile", "--target", "istoi", BOOKINFO)
    assert "did you mean 'istio'?" in err and "Installed targets: " in err


class _FakeAdapter:
    name = "fake"
    description = "a target for tests"

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        return CompileResult(
            [
                {"kind": "Thing", "metadata": {"name": key.split("/")[1], "namespace": "default"}}
                for key in spec.services
            ]
        )


@pytest.fixture
def fake_target(monkeypatch: pytest.MonkeyPatch) -> None:
    import meshspec.api

    monkeypatch.setattr(cli, "get_adapter", lambda name: _FakeAdapter())
    monkeypatch.setattr(meshspec.api, "get_adapter", lambda name: _FakeAdapter())


@pytest.mark.usefixtures("fake_target")
def test_compile_writes_every_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "compile", "-t", "fake", BOOKINFO, "--output-dir", str(tmp_path))
    assert code == 0 and "wrote 4 files" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".meshspec-output",
        "thing-default-details.yaml",
        "thing-default-productpage.yaml",
        "thing-default-ratings.yaml",
        "thing-default-reviews.yaml",
    ]


@pytest.mark.usefixtures("fake_target")
def test_compile_writes_nothing_when_a_file_cannot_be_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / ".meshspec-output").write_text('{"files": ["thing-default-details.yaml"]}')
    (tmp_path / "thing-default-details.yaml").write_text("old\n")
    (tmp_path / "thing-default-reviews.yaml").mkdir()
    code, _, err = _run(capsys, "compile", "-t", "fake", BOOKINFO, "--output-dir", str(tmp_path))
    assert code == 1 and "nothing written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".meshspec-output",
        "thing-default-details.yaml",
        "thing-default-reviews.yaml",
    ]
    assert (tmp_path / "thing-default-details.yaml").read_text() == "old\n"


@pytest.mark.usefixtures("fake_target")
def test_compile_refuses_a_broken_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN)
    out_dir = tmp_path / "out"
    code, _out, err = _run(capsys, "compile", "-t", "fake", str(f), "--output-dir", str(out_dir))
    assert code == 1 and "MS204" in err and not out_dir.exists()


def test_help_reads_well(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for command in ("validate", "schema", "explain", "compile", "import", "targets"):
        assert command in out
    for command in ("validate", "schema", "explain", "compile", "import"):
        code, out, _ = _run(capsys, command, "--help")
        assert code == 0 and "Usage: meshspec " + command in out


def test_installed_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("meshspec")
    assert script.exists()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    ok = subprocess.run(
        [str(script), "validate", BOOKINFO],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "4 services, 0 errors, 0 warnings" in ok.stderr
    piped = subprocess.run(
        [str(script), "validate", "-", "-o", "json"],
        input=BROKEN,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert piped.returncode == 1
    assert json.loads(piped.stdout)[0]["code"] == "MS204"
    junk = subprocess.run(
        [str(script), "validate", "-"],
        input="\x00\x01{[",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert junk.returncode == 1 and "Traceback" not in junk.stderr


def test_bookinfo_compiles_to_istio_without_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command: it must succeed with no error, and its only warning
    is the one Istio owes its users: Envoy matches the `end-user` route per header line
    (MS1015), where the spec matches the joined value."""
    code, out, err = _run(capsys, "compile", "--target", "istio", BOOKINFO)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if " warning " in line]
    assert warnings and all("MS1015" in line for line in warnings), err
    assert " error " not in err
    assert out.count("\nkind: ") + out.startswith("kind: ") >= 4


def test_import_from_an_unreachable_cluster_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The adapter's cluster reader answers: its own code, no traceback, nothing written."""
    code, out, err = _run(
        capsys, "import", "--from", "istio", "--kubeconfig", str(tmp_path / "missing")
    )
    assert code == 1 and out == ""
    assert "MS1517" in err and "nothing written" in err


@pytest.mark.parametrize(
    "args",
    [
        ["import", "--from", "ferry", "--live"],
        ["diff", "--from", "ferry", "--live", "mesh.yaml"],
        ["plan", "--from", "ferry", "--live", "--to", "reference"],
    ],
)
def test_live_from_a_target_without_a_cluster_reader_is_a_usage_error(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import meshspec.live
    from tests.adapters.skeleton import adapter as ferry

    monkeypatch.setattr(cli, "get_adapter", lambda name: ferry)
    monkeypatch.setattr(meshspec.live, "get_adapter", lambda name: ferry)
    code, out, err = _run(capsys, *args)
    assert code == 2 and out == ""
    assert "target 'ferry' cannot read from a cluster" in err

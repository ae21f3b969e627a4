"""The CI integration the docs promise works: the pre-commit hook and every
meshspec command of the CI snippets in docs/ci.md, run on a small project."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import click
import pytest
from ruamel.yaml import YAML

from meshspec.cli import cli, main

ROOT = Path(__file__).resolve().parent.parent
CI_DOC = ROOT / "docs" / "ci.md"
WARNING_SPEC = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  versions: [{name: v1}]
  routes:
    - name: slow
      backends: [{version: v1}]
      timeout: 1s
      retries: {attempts: 2, perTryTimeout: 5s}
"""
POLICY_TESTS = """\
spec: ../mesh/mesh.yaml
tests:
  - name: ratings cannot read reviews
    request: {from: ratings, to: reviews, path: /reviews/0}
    expect: {status: 403, authz: deny}
"""


def _yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def _hooks() -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = _yaml((ROOT / ".pre-commit-hooks.yaml").read_text())
    return hooks


def test_pre_commit_hooks_are_well_formed_and_name_real_commands() -> None:
    hooks = _hooks()
    assert [h["id"] for h in hooks] == ["meshspec-validate", "meshspec-diff-security"]
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= set(hook)
        program, command, *_ = shlex.split(hook["entry"])
        assert program == "meshspec"
        assert cli.get_command(click.Context(cli), command) is not None
        assert re.compile(hook["files"]).search("mesh/reviews.yaml")


@pytest.mark.parametrize(("spec", "code"), [("bookinfo", 0), ("warning", 1)])
def test_the_validate_hook_fails_exactly_when_the_spec_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: str, code: int
) -> None:
    hook = _hooks()[0]
    mesh = tmp_path / "mesh"
    mesh.mkdir()
    if spec == "bookinfo":
        shutil.copy(ROOT / "examples" / "bookinfo" / "mesh.yaml", mesh / "mesh.yaml")
    else:
        (mesh / "web.yaml").write_text(WARNING_SPEC)
    args = [*shlex.split(hook["entry"])[1:], "--strict", str(mesh)]
    assert main(args) == code
    capsys.readouterr()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", CI_DOC.read_text(), re.S)


def _meshspec_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("meshspec ")]


def test_ci_snippets_are_valid_yaml_with_real_commands() -> None:
    gha, gitlab, pre_commit = (_yaml(b) for b in _blocks("yaml"))
    steps = gha["jobs"]["meshspec"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert any("upload-sarif" in str(s.get("uses")) for s in steps)
    assert set(gitlab["meshspec"]["artifacts"]["reports"]["junit"]) == {
        "policy-tests.xml",
        "conformance.xml",
    }
    assert pre_commit["repos"][0]["hooks"][0]["id"] == _hooks()[0]["id"]
    commands = _meshspec_lines(runs + gitlab["meshspec"]["script"])
    commands += _meshspec_lines(
        [line.split("#")[0].strip() for line in _blocks("sh")[0].splitlines()]
    )
    assert len(commands) >= 8
    for text in commands:
        words = shlex.split(text)
        words = words[: words.index(">")] if ">" in words else words
        command = cli.get_command(click.Context(cli), words[1])
        assert command is not None, text
        command.make_context(words[1], words[2:], parent=click.Context(cli))


def test_the_gitlab_script_runs_on_a_project(tmp_path: Path) -> None:
    """Each meshspec line of the GitLab job, run by the shell on a small project,
    exits 0 and leaves the reports the job publishes."""
    (tmp_path / "mesh").mkdir()
    shutil.copy(ROOT / "examples" / "bookinfo" / "mesh.yaml", tmp_path / "mesh" / "mesh.yaml")
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "tests.yaml").write_text(POLICY_TESTS)
    gitlab = _yaml(_blocks("yaml")[1])["meshspec"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for line in _meshspec_lines(gitlab["script"]):
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
        assert done.stderr == "" or "Traceback" not in done.stderr
    for report in gitlab["artifacts"]["reports"]["junit"]:
        root = ET.parse(tmp_path / report).getroot()
        assert int(root.get("tests") or sum(int(s.get("tests", 0)) for s in root)) > 0
        assert root.get("failures", "0") == "0"
    assert (tmp_path / "gl-meshspec.sarif").stat().st_size > 0


@pytest.mark.parametrize(("edit", "code"), [("none", 0), ("relax-mtls", 1)])
def test_the_diff_hook_fails_exactly_when_a_change_weakens_security(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: str, code: int
) -> None:
    hook = _hooks()[1]
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    text = (ROOT / "examples" / "zero-trust" / "mesh.yaml").read_text()
    (old / "mesh.yaml").write_text(text)
    if edit == "relax-mtls":
        assert "STRICT" in text
        text = text.replace("STRICT", "PERMISSIVE")
    (new / "mesh.yaml").write_text(text)
    args = [*shlex.split(hook["entry"])[1:], str(old), str(new)]
    assert main(args) == code
    capsys.readouterr()

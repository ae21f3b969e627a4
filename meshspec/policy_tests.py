"""`meshspec test`: a YAML file of requests and the answers the spec must give.

The same idea as `opa test` or `conftest`: the expectations live beside the
policy and CI fails when a change to the spec changes an answer. A file:

    spec: ../mesh.yaml            # or a list; relative to this file
    tests:
      - name: jason sees v2
        request: {from: productpage, to: reviews, path: /reviews/0,
                  headers: {end-user: jason}}
        expect: {route: jason, version: v2, authz: allow}
      - name: outsiders are refused
        request: {unauthenticated: true, to: reviews, path: /}
        expect: {outcome: mtls_refused}

Expectation fields are those of `explain --expect` (`meshspec.expectations`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from meshspec import codes
from meshspec.diagnostics import Diagnostic, Location
from meshspec.expectations import Expectation, ExpectationError, Mismatch, check, expectation
from meshspec.loader import read_text
from meshspec.semantics import Request
from meshspec.spec import Origin
from meshspec.yaml_source import YamlProblem, load_documents

REQUEST_KEYS = frozenset({"from", "unauthenticated", "to", "method", "path", "headers", "port"})


@dataclass(frozen=True)
class PolicyTest:
    name: str
    request: Request
    expect: tuple[Expectation, ...]
    location: Location


@dataclass
class TestFile:
    path: str
    spec_paths: list[str] = field(default_factory=list)
    tests: list[PolicyTest] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True)
class TestResult:
    test: PolicyTest
    mismatches: tuple[Mismatch, ...] = ()
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.mismatches and not self.error

    def why(self) -> str:
        return self.error or "; ".join(str(m) for m in self.mismatches)


def _problem(message: str, origin: Origin, path: tuple[str | int, ...], hint: str) -> Diagnostic:
    return codes.SCHEMA(message, location=origin.locate(path), hint=hint)


def _headers(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k).lower(): str(v) for k, v in value.items()}
    raise ExpectationError("headers is a mapping of name: value")


def _request(data: Any) -> Request:
    if not isinstance(data, Mapping):
        raise ExpectationError("request is a mapping with from (or unauthenticated), to and path")
    unknown = sorted(set(map(str, data)) - REQUEST_KEYS)
    if unknown:
        raise ExpectationError(f"unknown request field(s): {', '.join(unknown)}")
    source = data.get("from")
    outside = data.get("unauthenticated", False) is True
    if (source is None) == (not outside):
        raise ExpectationError("say who sends the request: from: SERVICE or unauthenticated: true")
    if not isinstance(data.get("to"), str):
        raise ExpectationError("request.to names the destination service")
    port = data.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise ExpectationError("request.port is a number")
    return Request(
        destination=str(data["to"]),
        target=str(data.get("path", "/")),
        method=str(data.get("method", "GET")).upper(),
        headers=_headers(data.get("headers") or {}),
        port=port,
        source=None if source is None else str(source),
    )


def _test(item: Any, origin: Origin, index: int) -> PolicyTest:
    if not isinstance(item, Mapping):
        raise ExpectationError("a test is a mapping with name, request and expect")
    unknown = sorted(set(map(str, item)) - {"name", "request", "expect"})
    if unknown:
        raise ExpectationError(f"unknown test field(s): {', '.join(unknown)}")
    expect = item.get("expect")
    if not isinstance(expect, Mapping) or not expect:
        raise ExpectationError("expect names at least one field, e.g. {status: 403}")
    return PolicyTest(
        name=str(item.get("name") or f"tests[{index}]"),
        request=_request(item.get("request")),
        expect=tuple(expectation(str(k), v) for k, v in expect.items()),
        location=origin.locate(("tests", index)),
    )


def read_test_file(path: str) -> TestFile:
    out = TestFile(path)
    text, problem = read_text(path)
    if problem is not None or text is None:
        out.diagnostics.append(problem or codes.READ_FAILED("cannot read", location=Location(path)))
        return out
    try:
        docs = [d for d in load_documents(text) if d.data is not None]
    except YamlProblem as exc:
        out.diagnostics.append(
            codes.YAML_SYNTAX(f"not valid YAML: {exc.message}", location=Location(path, exc.line))
        )
        return out
    hint = "see `meshspec test --help` for the file format"
    if len(docs) != 1 or not isinstance(docs[0].data, Mapping):
        out.diagnostics.append(
            codes.NOT_A_MAPPING(
                "a test file is one mapping with spec and tests", location=Location(path, 1, 1)
            )
        )
        return out
    data, origin = docs[0].data, Origin(path, docs[0].index, docs[0].positions)
    unknown = sorted(set(map(str, data)) - {"spec", "tests"})
    if unknown:
        out.diagnostics.append(
            codes.UNKNOWN_FIELD(f"unknown field(s): {', '.join(unknown)}", location=origin.locate())
        )
    spec = data.get("spec", [])
    specs = [spec] if isinstance(spec, str) else spec
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        problem = _problem("spec is a path or a list of paths", origin, ("spec",), hint)
        out.diagnostics.append(problem)
        specs = []
    base = Path(path).parent
    out.spec_paths = [s if Path(s).is_absolute() else str(base / s) for s in specs]
    tests = data.get("tests")
    if not isinstance(tests, list):
        out.diagnostics.append(_problem("tests is a list of tests", origin, ("tests",), hint))
        return out
    for index, item in enumerate(tests):
        try:
            out.tests.append(_test(item, origin, index))
        except ExpectationError as exc:
            out.diagnostics.append(_problem(str(exc), origin, ("tests", index), hint))
    return out


def run_tests(spec: Any, tests: Sequence[PolicyTest]) -> list[TestResult]:
    from meshspec.semantics import UnknownService, decide

    results = []
    for test in tests:
        try:
            decision = decide(spec, test.request)
        except UnknownService as exc:
            results.append(TestResult(test, error=str(exc)))
            continue
        results.append(TestResult(test, tuple(check(decision, test.expect))))
    return results


def render_junit(results: Sequence[TestResult]) -> str:
    """One test suite per test file, one test case per test."""
    root = ET.Element("testsuites", name="meshspec test")
    suites: dict[str, ET.Element] = {}
    for r in results:
        file = r.test.location.file
        suite = suites.get(file)
        if suite is None:
            suite = suites[file] = ET.SubElement(root, "testsuite", name=file)
        case = ET.SubElement(suite, "testcase", classname=file, name=r.test.name, file=file)
        if r.test.location.line:
            case.set("line", str(r.test.location.line))
        if not r.passed:
            ET.SubElement(case, "failure", message=r.why()).text = r.why()
    for file, suite in suites.items():
        mine = [r for r in results if r.test.location.file == file]
        suite.set("tests", str(len(mine)))
        suite.set("failures", str(sum(not r.passed for r in mine)))
    root.set("tests", str(len(results)))
    root.set("failures", str(sum(not r.passed for r in results)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

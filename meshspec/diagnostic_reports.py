"""Findings in the formats code review and CI read: SARIF 2.1.0 and JUnit XML.

SARIF (OASIS, https://docs.oasis-open.org/sarif/sarif/v2.1.0/) is what GitHub
code scanning and GitLab show inline; JUnit XML is what every CI test view
reads. Both are derived only from the diagnostics, in sorted order, so the
same input gives the same bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from xml.etree import ElementTree as ET

from meshspec.codes import CATALOGUE
from meshspec.diagnostics import Diagnostic, Severity, sorted_diagnostics

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DOCS_URI = "https://github.com/meshspec/meshspec/blob/main/docs/cli.md"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _tool_version() -> str:
    try:
        return version("meshspec")
    except PackageNotFoundError:
        return "0"


def _uri(file: str) -> str | None:
    """A relative URI for files below the working directory, else an absolute file URI."""
    if not file or file.startswith("<"):
        return None
    path = Path(file)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()


def _failing(d: Diagnostic, strict: bool) -> bool:
    return d.severity is Severity.ERROR or (strict and d.severity is Severity.WARNING)


def render_sarif(diagnostics: Sequence[Diagnostic], strict: bool = False) -> str:
    diags = sorted_diagnostics(diagnostics)
    rule_ids = sorted({d.code for d in diags})
    rules = []
    for code in rule_ids:
        entry = CATALOGUE.get(code)
        title = entry.title if entry else code
        rules.append(
            {
                "id": code,
                "shortDescription": {"text": title},
                "helpUri": f"{DOCS_URI}#diagnostic-codes",
                "defaultConfiguration": {"level": _LEVEL[entry.severity] if entry else "warning"},
            }
        )
    results = []
    for d in diags:
        level = "error" if _failing(d, strict) else _LEVEL[d.severity]
        text = d.message + (f" (at {d.path})" if d.path else "")
        if d.hint:
            text += f". Hint: {d.hint}"
        result: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": rule_ids.index(d.code),
            "level": level,
            "message": {"text": text},
        }
        uri = _uri(d.file)
        if uri is not None:
            physical: dict[str, object] = {"artifactLocation": {"uri": uri}}
            if d.line:
                region: dict[str, int] = {"startLine": d.line}
                if d.column:
                    region["startColumn"] = d.column
                physical["region"] = region
            result["locations"] = [{"physicalLocation": physical}]
        if d.path:
            result["properties"] = {"specPath": d.path}
        results.append(result)
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "meshspec",
                        "version": _tool_version(),
                        "informationUri": DOCS_URI,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2)


def render_junit(
    diagnostics: Sequence[Diagnostic], files: Sequence[str], strict: bool = False
) -> str:
    """One test suite per file read; one failing test case per failing finding,
    one passing case for a file without any."""
    by_file: dict[str, list[Diagnostic]] = {f: [] for f in files}
    for d in sorted_diagnostics(diagnostics):
        by_file.setdefault(d.file or "(input)", []).append(d)
    root = ET.Element("testsuites", name="meshspec validate")
    total = failures = 0
    for file, diags in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=file)
        failing = [d for d in diags if _failing(d, strict)]
        for d in diags:
            where = f"{d.line}:{d.column}" if d.line else ""
            case = ET.SubElement(
                suite,
                "testcase",
                classname=file,
                name=f"{d.code} {where} {d.path}".strip(),
                file=file,
            )
            if d.line:
                case.set("line", str(d.line))
            if d in failing:
                failure = ET.SubElement(case, "failure", type=d.code, message=d.message)
                failure.text = d.render()
            else:
                ET.SubElement(case, "system-out").text = d.render()
        if not diags:
            ET.SubElement(suite, "testcase", classname=file, name="valid", file=file)
        cases = max(len(diags), 1)
        suite.set("tests", str(cases))
        suite.set("failures", str(len(failing)))
        suite.set("errors", "0")
        total += cases
        failures += len(failing)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + os.linesep

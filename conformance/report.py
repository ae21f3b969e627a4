"""Reports derived only from recorded results: JSON (versioned), JUnit, text, Markdown.

The Markdown form is the support matrix the README shows; it carries no
timestamps or timings so regenerating it on unchanged code gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from xml.etree import ElementTree as ET

from conformance.features import Profile
from conformance.results import CaseResult, Result, TargetReport

API_VERSION = "meshspec.io/conformance/v1alpha1"
KIND = "ConformanceReport"
REGENERATE = "meshspec conformance -o markdown --report-file docs/support-matrix.md"


def _meshspec_version() -> str:
    try:
        return version("meshspec")
    except PackageNotFoundError:
        return "unknown"


def _summary(counts: dict[Result, int]) -> dict[str, int]:
    return {
        "passed": counts[Result.PASSED],
        "failed": counts[Result.FAILED],
        "notSupported": counts[Result.NOT_SUPPORTED],
        "error": counts[Result.ERROR],
    }


def to_json(reports: Sequence[TargetReport]) -> dict[str, Any]:
    targets = []
    total = dict.fromkeys(Result, 0)
    for rep in reports:
        counts = rep.counts()
        for k, v in counts.items():
            total[k] += v
        entry: dict[str, Any] = {
            "name": rep.target,
            "description": rep.description,
            "features": list(rep.features),
        }
        if rep.unavailable:
            entry["unavailable"] = rep.unavailable
        entry["summary"] = _summary(counts)
        entry["profiles"] = [
            {
                "name": str(profile),
                "summary": _summary(rep.counts(profile)),
                "cases": [c.to_json() for c in rep.cases if c.profile is profile],
            }
            for profile in rep.profiles()
        ]
        targets.append(entry)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "meshspecVersion": _meshspec_version(),
        "summary": _summary(total),
        "targets": targets,
    }


def render_json(reports: Sequence[TargetReport]) -> str:
    return json.dumps(to_json(reports), indent=2) + "\n"


def render_junit(reports: Sequence[TargetReport]) -> str:
    root = ET.Element("testsuites", name="meshspec-conformance")
    for rep in reports:
        counts = rep.counts()
        suite = ET.SubElement(
            root,
            "testsuite",
            name=rep.target,
            tests=str(len(rep.cases)),
            failures=str(counts[Result.FAILED]),
            errors=str(counts[Result.ERROR]),
            skipped=str(counts[Result.NOT_SUPPORTED]),
        )
        for case in rep.cases:
            tc = ET.SubElement(
                suite, "testcase", classname=f"{rep.target}.{case.profile}", name=case.name
            )
            if case.result is Result.FAILED:
                ET.SubElement(tc, "failure", message=case.summary_line()).text = json.dumps(
                    [p.to_json() for p in case.probes], indent=2
                )
            elif case.result is Result.ERROR:
                ET.SubElement(tc, "error", message=_first_line(case.reason)).text = case.reason
            elif case.result is Result.NOT_SUPPORTED:
                ET.SubElement(tc, "skipped", message=f"not supported: {case.reason}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


_MARK = {
    Result.PASSED: "PASS",
    Result.FAILED: "FAIL",
    Result.NOT_SUPPORTED: "N/S ",
    Result.ERROR: "ERR ",
}


def case_line(target: str, case: CaseResult) -> str:
    line = f"{_MARK[case.result]} {target:<11} {case.profile!s:<19} {case.name}"
    why = case.summary_line()
    return f"{line}  -- {_first_line(why)}" if why else line


def render_text(reports: Sequence[TargetReport], verbose: bool = False) -> str:
    lines: list[str] = []
    for rep in reports:
        for case in rep.cases:
            if verbose or case.result is not Result.PASSED:
                lines.append(case_line(rep.target, case))
    lines.append("")
    for rep in reports:
        c = rep.counts()
        extra = f" (unavailable: {rep.unavailable})" if rep.unavailable else ""
        lines.append(
            f"{rep.target}: {c[Result.PASSED]} passed, {c[Result.FAILED]} failed, "
            f"{c[Result.NOT_SUPPORTED]} not supported, {c[Result.ERROR]} errors{extra}"
        )
    return "\n".join(lines) + "\n"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _cell(rep: TargetReport, profile: Profile) -> str:
    c = rep.counts(profile)
    total = sum(c.values())
    if total == 0:
        return "-"
    parts = [f"{c[Result.PASSED]}/{total}"]
    if c[Result.FAILED]:
        parts.append(f"{c[Result.FAILED]} failed")
    if c[Result.ERROR]:
        parts.append(f"{c[Result.ERROR]} errors")
    if c[Result.NOT_SUPPORTED]:
        parts.append(f"{c[Result.NOT_SUPPORTED]} n/s")
    grade = (
        "full" if c[Result.PASSED] == total else ("none" if c[Result.PASSED] == 0 else "partial")
    )
    partly = sum(1 for case in _partly_observed(rep) if case.profile is profile)
    suffix = f" ({partly} partly observed)" if partly else ""
    return f"{grade}: " + ", ".join(parts) + suffix


def _partly_observed(rep: TargetReport) -> list[CaseResult]:
    """Passed cases with expected fields the target could not observe."""
    return [
        c for c in rep.cases if c.result is Result.PASSED and any(p.unchecked for p in c.probes)
    ]


def _unchecked(case: CaseResult) -> str:
    return "; ".join(f"{p.name} ({', '.join(p.unchecked)})" for p in case.probes if p.unchecked)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(reports: Sequence[TargetReport]) -> str:
    profiles = [p for p in Profile if any(c.profile is p for r in reports for c in r.cases)]
    out = [
        "# Conformance support matrix",
        "",
        f"<!-- Generated from conformance results; do not edit. Regenerate: `{REGENERATE}` -->",
        "",
        "Each cell: grade, then cases passed / cases in the profile, then failures, errors",
        "and cases not supported (n/s). A case is *not supported* when the target lacks a",
        "feature it needs, cannot express its spec, or cannot observe what it checks;",
        "the reasons are listed below. Nothing is counted as passed without a check behind it:",
        "every probe of a passed case had at least one field checked and every checked field",
        "matched. A case is *partly observed* when the target could not see some expected",
        "fields (e.g. which authorization rule decided, over real sockets); those fields are",
        "listed below for each target. A column marked *(model)* is an adapter's model of",
        "its mesh (a reading of the mesh's documented behaviour, run in Python); `istio-live`",
        "is real Istio: istiod and Envoy sidecars on loopback, over real HTTP; `consul-live`",
        "is real Consul: a dev agent and Envoy sidecars on loopback, over real HTTP.",
        "",
        "| Profile | " + " | ".join(r.label or r.target for r in reports) + " |",
        "|---|" + "---|" * len(reports),
    ]
    for profile in profiles:
        cells = [_cell(r, profile) for r in reports]
        out.append(f"| {profile} | " + " | ".join(cells) + " |")
    totals = []
    for r in reports:
        counts = r.counts()
        totals.append(f"{counts[Result.PASSED]}/{sum(counts.values())}")
    out.append("| **all** | " + " | ".join(totals) + " |")
    out.append("")
    out.append("## Targets")
    out.append("")
    for r in reports:
        note = f" Unavailable here: {_md_escape(r.unavailable)}." if r.unavailable else ""
        out.append(f"- **{r.target}**: {_md_escape(r.description)}.{note}")
    for r in reports:
        broken = [c for c in r.cases if c.result is not Result.PASSED]
        if not broken:
            continue
        out.append("")
        out.append(f"## {r.target}: cases not passed")
        out.append("")
        out.append("| Case | Profile | Result | Reason |")
        out.append("|---|---|---|---|")
        for case in broken:
            reason = _md_escape(_first_line(case.summary_line()))
            out.append(f"| {case.name} | {case.profile} | {case.result} | {reason} |")
    for r in reports:
        partly = _partly_observed(r)
        if not partly:
            continue
        out.append("")
        out.append(f"## {r.target}: passed, partly observed")
        out.append("")
        out.append("| Case | Profile | Fields not observed |")
        out.append("|---|---|---|")
        for case in partly:
            out.append(f"| {case.name} | {case.profile} | {_md_escape(_unchecked(case))} |")
    return "\n".join(out) + "\n"


RENDERERS = {
    "json": render_json,
    "junit": render_junit,
    "markdown": render_markdown,
}

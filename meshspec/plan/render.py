"""A plan as Markdown (for people) and JSON (for tools), and its step directory."""

from __future__ import annotations

import json
from typing import Any

from meshspec.codecs import dump_yaml
from meshspec.diagnostics import Severity
from meshspec.diff.render import (
    describe_request,
    render_markdown,
    request_json,
    value_json,
)
from meshspec.diff.render import to_json as comparison_json
from meshspec.plan import Plan
from meshspec.plan.rollout import Check, Step


def step_dir(i: int, step: Step) -> str:
    return f"steps/{i:02d}-{step.name}"


def check_json(c: Check) -> dict[str, Any]:
    v = c.expect
    return {
        "request": request_json(c.request),
        "expect": {
            "outcome": v.outcome,
            "status": v.status,
            "backends": value_json(dict(v.backends)),
            "authz": v.authz,
            "mtls": value_json(v.mtls),
            "transport": value_json(v.transport),
        },
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    diags = [*plan.import_diagnostics, *plan.compile_diagnostics]
    return {
        "source": plan.source,
        "target": plan.target,
        "services": len(plan.spec.services),
        "summary": [
            {
                "area": a.area,
                "items": a.items,
                "changed": a.changed,
                "lost": a.lost,
                "status": a.status,
            }
            for a in plan.areas
        ],
        "comparison": comparison_json(plan.comparison, (plan.source, plan.target)),
        "diagnostics": {
            "import": [d.code for d in plan.import_diagnostics],
            "compile": [d.code for d in plan.compile_diagnostics],
            "warnings": sum(1 for d in diags if d.severity is Severity.WARNING),
        },
        "steps": [
            {
                "directory": step_dir(i, s),
                "name": s.name,
                "title": s.title,
                "why": s.why,
                "resources": len(s.resources),
                "checks": len(s.checks),
            }
            for i, s in enumerate(plan.steps, 1)
        ],
    }


def plan_markdown(plan: Plan) -> str:
    c = plan.comparison
    lines = [
        f"# Migration plan: {plan.source} → {plan.target}",
        "",
        f"{len(plan.spec.services)} services. The {plan.source} model over the source resources "
        f"and the {plan.target} model over the compiled resources were asked the same "
        f"{c.checked} requests ({c.boundary} from the spec's boundaries, "
        f"{c.checked - c.boundary} seeded random); route and rule names are each mesh's own "
        "and are not compared.",
        "",
        "## Summary",
        "",
        "| area | items | changed | lost | status |",
        "|---|---|---|---|---|",
    ]
    for a in plan.areas:
        lines.append(f"| {a.area} | {a.items} | {a.changed} | {a.lost} | {a.status} |")
    lines += [
        "",
        "*changed*: differences found between the two models; *lost*: import and "
        "compile diagnostics (warnings and errors) of the area.",
        "",
    ]
    lines.append(render_markdown(c, (plan.source, plan.target), heading="##"))
    lines += ["## Diagnostics", ""]
    diags = [("import", d) for d in plan.import_diagnostics] + [
        ("compile", d) for d in plan.compile_diagnostics
    ]
    if not diags:
        lines.append("None.")
    for stage, d in diags:
        where = f" ({d.location})" if d.location else ""
        lines.append(f"- {stage} {d.severity} {d.code}: {d.message}{where}")
    lines += ["", "## Steps", ""]
    for i, s in enumerate(plan.steps, 1):
        lines.append(
            f"{i}. **{s.title}** — `{step_dir(i, s)}/`: {len(s.resources)} resources, "
            f"{len(s.checks)} checks. Why: {s.why}."
        )
    lines += [
        "",
        "After each step, run its checks (`checks.json`): each names a request and the "
        "answer the target's model gives over that step's resources.",
    ]
    return "\n".join(lines) + "\n"


def plan_files(plan: Plan) -> dict[str, str]:
    """Every file of the output directory, by relative path."""
    files = {
        "plan.md": plan_markdown(plan),
        "plan.json": json.dumps(plan_json(plan), indent=2) + "\n",
    }
    for i, s in enumerate(plan.steps, 1):
        base = step_dir(i, s)
        files[f"{base}/resources.yaml"] = dump_yaml(s.resources) if s.resources else ""
        files[f"{base}/checks.json"] = (
            json.dumps([check_json(c) for c in s.checks], indent=2) + "\n"
        )
    return files


__all__ = ["describe_request", "plan_files", "plan_json", "plan_markdown"]

"""A comparison as text (terminals), JSON (tools) and Markdown (pull-request reviews)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from meshspec.adapter import Verdict
from meshspec.diff.compare import Comparison, Difference
from meshspec.durations import format_duration
from meshspec.semantics import BreakerPolicy, Request, RetryPolicy


def describe_request(r: Request) -> str:
    """One line a reader can replay with `meshspec explain`."""
    port = f":{r.port}" if r.port is not None else ""
    headers = "".join(f" -H '{k}: {v}'" for k, v in sorted(r.headers.items()))
    who = f"from {r.source} (in the mesh)" if r.source else "from outside the mesh (plaintext)"
    return f"{r.method} {r.target} to {r.destination}{port}{headers} {who}"


def request_json(r: Request) -> dict[str, Any]:
    return {
        "source": r.source,
        "destination": r.destination,
        "port": r.port,
        "method": r.method,
        "target": r.target,
        "headers": dict(sorted(r.headers.items())),
        "plaintext": r.source is None,
    }


def value_json(value: Any) -> Any:
    """A verdict field as plain data."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, RetryPolicy | BreakerPolicy):
        return value.to_json()
    if isinstance(value, Mapping):
        return {_key(k): value_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [value_json(v) for v in value]
    return str(value)


def _key(k: Any) -> str:
    if isinstance(k, tuple) and len(k) == 2:
        return k[0] if k[1] is None else f"{k[0]}@{k[1]}"
    return str(k)


def value_text(name: str, value: Any) -> str:
    if name == "timeout" and isinstance(value, float | int):
        return format_duration(float(value))
    if value is None:
        return "-"
    data = value_json(value)
    return data if isinstance(data, str) else json.dumps(data, sort_keys=True)


def verdict_summary(v: Verdict) -> str:
    parts = [v.outcome if v.status is None else f"{v.outcome} ({v.status})"]
    if v.route:
        parts.append(f"route {v.route}")
    if v.authz:
        parts.append(f"authz {v.authz}" + (f" by {v.authz_rule}" if v.authz_rule else ""))
    return ", ".join(parts)


def difference_json(d: Difference) -> dict[str, Any]:
    return {
        "category": str(d.category),
        "requests": d.requests,
        "request": request_json(d.request),
        "changes": {
            name: {"old": value_json(a), "new": value_json(b)} for name, (a, b) in d.fields.items()
        },
        "old": verdict_summary(d.old),
        "new": verdict_summary(d.new),
    }


def to_json(c: Comparison, labels: tuple[str, str] = ("old", "new")) -> dict[str, Any]:
    return {
        "old": labels[0],
        "new": labels[1],
        "checked": c.checked,
        "boundaryRequests": c.boundary,
        "randomRequests": c.checked - c.boundary,
        "unchangedServices": c.unchanged_services,
        "equal": c.equal,
        "differences": [difference_json(d) for d in c.differences],
    }


def render_json(c: Comparison, labels: tuple[str, str] = ("old", "new")) -> str:
    return json.dumps(to_json(c, labels), indent=2) + "\n"


def _counts(c: Comparison) -> str:
    text = (
        f"{c.checked} requests checked ({c.boundary} from the specs' boundaries, "
        f"{c.checked - c.boundary} seeded random)"
    )
    if c.unchanged_services:
        text += (
            f"; {c.unchanged_services} service(s) not asked: their documents and everything "
            "their answers read are equal on both sides"
        )
    return text


def render_text(c: Comparison, labels: tuple[str, str] = ("old", "new")) -> str:
    if c.equal:
        return f"no differences: {_counts(c)}\n"
    lines = [f"{len(c.differences)} differences; {_counts(c)}", ""]
    for i, d in enumerate(c.differences, 1):
        more = f" (and {d.requests - 1} more requests like it)" if d.requests > 1 else ""
        lines.append(f"{i}. [{d.category}] {describe_request(d.request)}{more}")
        for name, (a, b) in d.fields.items():
            lines.append(f"     {name}: {value_text(name, a)} -> {value_text(name, b)}")
        lines.append(f"     {labels[0]}: {verdict_summary(d.old)}")
        lines.append(f"     {labels[1]}: {verdict_summary(d.new)}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(
    c: Comparison, labels: tuple[str, str] = ("old", "new"), heading: str = "##"
) -> str:
    title = f"{heading} meshspec diff: `{labels[0]}` → `{labels[1]}`"
    if c.equal:
        return f"{title}\n\nNo request behaves differently: {_counts(c)}.\n"
    by_cat: dict[str, int] = {}
    for d in c.differences:
        by_cat[str(d.category)] = by_cat.get(str(d.category), 0) + 1
    summary = ", ".join(f"**{n} {cat}**" for cat, n in by_cat.items())
    lines = [title, "", f"{summary}; {_counts(c)}.", ""]
    lines += ["| # | kind | request | what changes | requests |", "|---|---|---|---|---|"]
    for i, d in enumerate(c.differences, 1):
        changes = "<br>".join(
            f"{name}: `{value_text(name, a)}` → `{value_text(name, b)}`"
            for name, (a, b) in d.fields.items()
        )
        lines.append(
            f"| {i} | {d.category} | `{_cell(describe_request(d.request))}` | "
            f"{_cell(changes)} | {d.requests} |"
        )
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}

"""Reading the files App Mesh configurations live in, with line and column marks.

* CloudFormation YAML uses short-form intrinsic tags (`!Ref X`, `!Sub "..."`,
  `!GetAtt A.B`) that a plain YAML loader rejects; they are read here as their
  long forms (`{"Ref": "X"}`, `{"Fn::Sub": ...}`, `{"Fn::GetAtt": ["A", "B"]}`), as
  the CloudFormation template reference defines them.
* Terraform `.tf` files are HCL2 (python-hcl2), block lines kept.
* AWS CLI JSON and controller CRDs are plain YAML/JSON (meshspec's own reader).
* The AWS examples keep CLI input as jq filters (`jq -n --arg X v -f file.json`)
  with bare `$X` variables: not JSON until rendered. Such a file is refused with
  MS3002 naming every variable, so the user can render it first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from adapters.appmesh import codes as C
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic, Location
from meshspec.loader import expand_paths, read_text
from meshspec.native import read_native
from meshspec.spec import Origin
from meshspec.spec.bundle import PathKey

#: marks a document read from a Terraform file
TERRAFORM_MARK = "__terraform__"
_JQ_VARIABLE = re.compile(r"(?<![\"\w$])\$([A-Za-z_][A-Za-z0-9_]*)")
_CFN_MARKERS = ("AWSTemplateFormatVersion", '"Resources"', "\nResources:")
_CFN_TAG = re.compile(
    r"(?:^|[\s:\[,-])!(?:Ref|Sub|GetAtt|Join|Select|Split|If|Equals|FindInMap|ImportValue|"
    r"Base64|GetAZs|Cidr|Not|And|Or|Condition|Transform)\b",
    re.M,
)


def read_files(paths: Iterable[str]) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """Every App Mesh document in the files (any form), and what could not be read."""
    files, problems = _expand(paths)
    docs: list[NativeDocument] = []
    for name in files:
        if Path(name).suffix == ".tf":
            found, more = _terraform(name)
        else:
            found, more = _yaml_or_json(name)
        docs += found
        problems += more
    return docs, problems


#: what a directory of App Mesh configuration holds: YAML and JSON (CloudFormation,
#: CLI output, controller resources), Terraform, and the examples' templates
_SUFFIXES = (".yaml", ".yml", ".json", ".tf", ".yaml.template", ".json.template")


def _expand(paths: Iterable[str]) -> tuple[list[str], list[Diagnostic]]:
    files: list[str] = []
    problems: list[Diagnostic] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(
                str(f) for f in path.rglob("*") if f.is_file() and f.name.endswith(_SUFFIXES)
            )
            if found:
                files += found
                continue
        more, trouble = expand_paths(
            [p],
            "App Mesh configuration (CloudFormation, Terraform, "
            "AWS CLI JSON or controller resources)",
        )
        files += more
        problems += trouble
    return files, problems


def _yaml_or_json(name: str) -> tuple[list[NativeDocument], list[Diagnostic]]:
    text, problem = read_text(name)
    if problem is not None or text is None:
        return [], [problem] if problem else []
    shown = "<stdin>" if name == "-" else name
    variables = jq_variables(text)
    if variables:
        line = next(i for i, row in enumerate(text.splitlines(), 1) if "$" + variables[0] in row)
        listed = ", ".join("$" + v for v in variables)
        return [], [
            C.TEMPLATE_VARIABLE(
                f"a jq template with unfilled variables {listed}",
                location=Location(shown, line, 1),
                target="appmesh",
                hint="render it first, e.g. jq -n "
                + " ".join(f"--arg {v} VALUE" for v in variables)
                + f" -f {Path(shown).name} > rendered.json, then import rendered.json",
            )
        ]
    if _CFN_TAG.search(text) or any(m in text for m in _CFN_MARKERS):
        try:
            return _cloudformation(shown, text), []
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown)
            return [], [
                C.NOT_READABLE(f"not YAML or JSON: {exc}", location=where, target="appmesh")
            ]
    return read_native([name])


def jq_variables(text: str) -> list[str]:
    """Bare `$NAME` outside strings: jq variables, so the text is a jq filter."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    if not outside.lstrip().startswith(("{", "[")):
        return []
    return sorted(set(_JQ_VARIABLE.findall(outside)))


# --- CloudFormation YAML/JSON with short-form tags


class _Composer(yaml.SafeLoader):
    """Composes nodes only: custom tags are kept on the nodes, not constructed."""


def _cloudformation(shown: str, text: str) -> list[NativeDocument]:
    docs = []
    for index, node in enumerate(yaml.compose_all(text, Loader=_Composer)):
        if node is None:
            continue
        positions: dict[PathKey, tuple[int, int]] = {}
        data = _value(node, (), positions)
        if isinstance(data, dict):
            docs.append(NativeDocument(data, Origin(shown, index, positions)))
    return docs


_constructor = yaml.SafeLoader(stream="")


def _value(node: Node, path: PathKey, positions: dict[PathKey, tuple[int, int]]) -> Any:
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    tag = node.tag or ""
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_constructor.construct_object(key_node, deep=True))
            out[key] = _value(value_node, (*path, key), positions)
        value: Any = out
    elif isinstance(node, SequenceNode):
        value = [_value(item, (*path, i), positions) for i, item in enumerate(node.value)]
    elif tag.startswith("!"):
        value = node.value
    else:
        value = _constructor.construct_object(node, deep=True)
    if not tag.startswith("!"):
        return value
    name = tag[1:]
    if name == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    long = name if name in ("Ref", "Condition") else f"Fn::{name}"
    return {long: value}


# --- Terraform HCL2


def _terraform(name: str) -> tuple[list[NativeDocument], list[Diagnostic]]:
    import hcl2
    from hcl2.utils import SerializationOptions

    text, problem = read_text(name)
    if problem is not None or text is None:
        return [], [problem] if problem else []
    options = SerializationOptions(with_meta=True, strip_string_quotes=True, with_comments=False)
    try:
        data = hcl2.loads(text, serialization_options=options)
    except Exception as exc:  # python-hcl2 raises lark errors of many types
        line = int(getattr(exc, "line", 0) or 0)
        column = int(getattr(exc, "column", 0) or 0)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [], [
            C.NOT_READABLE(
                f"not HCL2 Terraform: {first}",
                location=Location(name, line, column),
                target="appmesh",
            )
        ]
    data = json.loads(json.dumps(data, default=str))
    return [NativeDocument({TERRAFORM_MARK: data}, Origin(name, 0, {}))], []

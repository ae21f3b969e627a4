"""Files of config entries: writing JSON or HCL for `consul config write`, reading JSON, YAML
(consul-k8s resources) and HCL.

Consul reads its config-entry HCL with HCL 1 (consul `command/helpers` `ParseConfigEntry` uses
`hcl.Decode`), where an object inside a list may hold blocks (`Match { HTTP { ... } }`). The
HCL 2 parser (python-hcl2) reads such a file once each nested block is written as an
assignment (`Match = { ... }`), which is what `_as_hcl2` does before parsing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adapters.consul.entries import config_entry, enveloped
from meshspec import codes as core_codes
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic, Location
from meshspec.native import read_native
from meshspec.spec import Origin

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def render(resources: Sequence[Mapping[str, Any]], fmt: str) -> list[tuple[str, str]]:
    """(file name, text) per entry; the names sort in apply order."""
    out = []
    width = len(str(len(resources)))
    for i, res in enumerate(resources, 1):
        data = config_entry(res)
        stem = f"{i:0{width}d}-{data['Kind']}-{res.get('Name', '')}".lower()
        if fmt == "hcl":
            out.append((stem + ".hcl", hcl_text(data)))
        else:
            out.append((stem + ".json", json.dumps(data, indent=2) + "\n"))
    return out


def hcl_text(data: Mapping[str, Any]) -> str:
    """HCL that Consul's HCL 1 decoder and HCL 2 readers both read as `data`."""
    return "".join(f"{_key(k)} = {_value(v, 0)}\n" for k, v in data.items())


def _key(key: str) -> str:
    return key if _IDENT.match(key) else json.dumps(key)


def _value(value: Any, depth: int) -> str:
    pad = "  " * (depth + 1)
    end = "  " * depth
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        body = "".join(f"{pad}{_key(str(k))} = {_value(v, depth + 1)}\n" for k, v in value.items())
        return "{\n" + body + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        body = "".join(f"{pad}{_value(v, depth + 1)},\n" for v in value)
        return "[\n" + body + end + "]"
    return json.dumps(value)


def read_files(paths: Sequence[str]) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """HCL files through python-hcl2, everything else as YAML/JSON documents."""
    hcl = [p for p in paths if p.endswith(".hcl")]
    others = [p for p in paths if not p.endswith(".hcl")]
    for p in paths:
        if Path(p).is_dir():
            hcl += sorted(str(f) for f in Path(p).rglob("*.hcl"))
    docs: list[NativeDocument] = []
    problems: list[Diagnostic] = []
    if others:
        docs, problems = read_native(others)
    for name in hcl:
        doc, problem = read_hcl(name)
        if doc is not None:
            docs.append(doc)
        if problem is not None:
            problems.append(problem)
    return docs, problems


def read_hcl(name: str) -> tuple[NativeDocument | None, Diagnostic | None]:
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, core_codes.READ_FAILED(
            f"cannot read {name}: {exc}", location=Location(name, 1, 1)
        )
    data, error = parse_hcl(text)
    if data is None:
        return None, core_codes.YAML_SYNTAX(
            f"not HCL that Consul reads: {error}",
            location=Location(name, 1, 1),
            hint='a config entry file holds one entry: Kind = "...", Name = "...", ...',
        )
    return NativeDocument(enveloped(data), Origin(name, 0)), None


def parse_hcl(text: str) -> tuple[dict[str, Any] | None, str]:
    import hcl2

    try:
        raw = hcl2.loads(_as_hcl2(text))
    except Exception as exc:
        return None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    value = _plain(raw, top=True)
    if not isinstance(value, dict):
        return None, "not a mapping"
    return value, ""


_BLOCK = re.compile(r"(?m)^(\s*)([A-Za-z_][A-Za-z0-9_]*)\s*\{")


def _as_hcl2(text: str) -> str:
    """`Name {` -> `Name = {`: HCL 1 blocks written as HCL 2 object assignments."""
    return _BLOCK.sub(r"\1\2 = {", text)


def _plain(value: Any, top: bool = False) -> Any:
    """python-hcl2's output as plain data: strings unquoted, `${...}` kept as written."""
    if isinstance(value, dict):
        return {
            _unquote(str(k)): _plain(v)
            for k, v in value.items()
            if not (top and str(k).startswith("__")) and not str(k).startswith("__")
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            return str(json.loads(text))
        except ValueError:
            return text[1:-1]
    return text

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
from meshspec.json_text import indented_json
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
            out.append((stem + ".json", indented_json(data) + "\n"))
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
    """HCL files through python-hcl2, everything else as YAML/JSON documents; a directory
    stands for its `.hcl`, `.json`, `.yaml` and `.yml` files."""
    files: list[str] = []
    for p in paths:
        if p != "-" and Path(p).is_dir():
            found = sorted(
                str(f)
                for f in Path(p).rglob("*")
                if f.is_file() and f.suffix in (".hcl", ".json", ".yaml", ".yml")
            )
            files += found or [p]  # an empty directory: read_native says so
        else:
            files.append(p)
    hcl = [f for f in files if f.endswith(".hcl")]
    others = [f for f in files if not f.endswith(".hcl")]
    docs: list[NativeDocument] = []
    problems: list[Diagnostic] = []
    if others:
        docs, problems = read_native(others)
    for name in hcl:
        found_docs, problem = read_hcl(name)
        docs.extend(found_docs)
        if problem is not None:
            problems.append(problem)
    return docs, problems


def read_hcl(name: str) -> tuple[list[NativeDocument], Diagnostic | None]:
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        where = Location(name, 1, 1)
        return [], core_codes.READ_FAILED(f"cannot read {name}: {exc}", location=where)
    data, error = parse_hcl(text)
    if data is None:
        return [], core_codes.YAML_SYNTAX(
            f"not HCL that Consul reads: {error}",
            location=Location(name, 1, 1),
            hint='a config entry file holds one entry: Kind = "...", Name = "...", ...',
        )
    entries = entries_of(data)
    return [NativeDocument(enveloped(e), Origin(name, i)) for i, e in enumerate(entries)], None


def entries_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A file's entries: itself, or the `config_entries { bootstrap { ... } }` of an agent's
    configuration (agent configuration reference, `config_entries.bootstrap`)."""
    blocks = data.get("config_entries")
    if blocks is None:
        return [data]
    out: list[dict[str, Any]] = []
    for block in blocks if isinstance(blocks, list) else [blocks]:
        boot = block.get("bootstrap") if isinstance(block, dict) else None
        for e in boot if isinstance(boot, list) else [boot] if boot else []:
            if isinstance(e, dict):
                out.append(e)
    return out


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


#: blocks that may repeat, each one an element of a list (an agent's `config_entries` and
#: `bootstrap`, an entry's `Sources`, `Routes`, `Splits`, ...): kept as blocks, which
#: python-hcl2 reads as lists
_LIST_BLOCKS = {
    "config_entries",
    "bootstrap",
    "sources",
    "Sources",
    "permissions",
    "Permissions",
    "routes",
    "Routes",
    "splits",
    "Splits",
    "header",
    "Header",
    "query_param",
    "QueryParam",
    "overrides",
    "Overrides",
}


def _as_hcl2(text: str) -> str:
    """Every HCL 1 block (`Match { HTTP { ... } }`, also inside a list) written as the HCL 2
    object assignment it means (`Match = { HTTP = { ... } }`); strings and comments kept."""
    out: list[str] = []
    i, n = 0, len(text)
    last = ""  # the last significant character outside strings and comments
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i, last = j + 1, '"'
            continue
        if c == "#" or text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_-"):
                j += 1
            k = j
            while k < n and text[k] in " \t":
                k += 1
            word = text[i:j]
            block = k < n and text[k] == "{" and last != "="
            out.append(word + (" =" if block and word not in _LIST_BLOCKS else ""))
            i, last = j, "w"
            continue
        out.append(c)
        if not c.isspace():
            last = c
        i += 1
    return "".join(out)


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

"""Reading spec files, directories and stdin into a validated `Spec`.

Every problem becomes a diagnostic with file:line:col; nothing here raises
for bad input. Semantic checks live in `meshspec.validation`.
"""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from meshspec import codes
from meshspec.diagnostics import Diagnostic, Location, has_errors
from meshspec.gcpause import cyclic_gc_paused
from meshspec.spec import API_VERSION, KINDS, Document, MeshDocument, Origin, ServiceDocument, Spec
from meshspec.spec.bundle import service_key
from meshspec.spec.routes import Retries
from meshspec.yaml_source import RawDocument, YamlProblem, iter_documents

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_DOCUMENT = TypeAdapter(Document)
#: `meshspec --debug` shows these; the CLI names the last file read on an internal error
_log = logging.getLogger("meshspec.loader")


@dataclass
class LoadResult:
    spec: Spec | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not has_errors(self.diagnostics)


def expand_paths(
    paths: Iterable[str], looking_for: str = "meshspec documents"
) -> tuple[list[str], list[Diagnostic]]:
    """Files named, plus spec files found below directories (sorted)."""
    files: list[str] = []
    problems: list[Diagnostic] = []
    for p in paths:
        if p == "-":
            files.append("-")
            continue
        path = Path(p)
        if path.is_dir():
            found = sorted(
                str(f) for f in path.rglob("*") if f.is_file() and f.suffix in SPEC_SUFFIXES
            )
            if not found:
                problems.append(
                    codes.NO_DOCUMENTS(
                        "nothing to read: the directory holds no .yaml, .yml or .json file",
                        location=Location(p),
                        hint=f"point at a directory with {looking_for}",
                    )
                )
            files.extend(found)
        elif path.is_file():
            files.append(p)
        else:
            problems.append(
                codes.READ_FAILED(
                    "cannot read: no such file or directory",
                    location=Location(p),
                    hint="check the path; use '-' to read from standard input",
                )
            )
    return files, problems


def read_text(name: str) -> tuple[str | None, Diagnostic | None]:
    """The file's text. No size limit: what bounds the work is in `yaml_source`."""
    _log.debug("reading %s", name, extra={"file": name})
    try:
        if name == "-":
            raw = sys.stdin.buffer.read()
            name_for = "<stdin>"
        else:
            with open(name, "rb") as fh:
                raw = fh.read()
            name_for = name
    except OSError as exc:
        return None, codes.READ_FAILED(
            f"cannot read: {exc.strerror or exc}", location=Location(name), hint="check the path"
        )
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        return None, codes.READ_FAILED(
            f"cannot read: not UTF-8 text (byte {exc.start})",
            location=Location(name_for, raw.count(b"\n", 0, exc.start) + 1, column),
            hint="save the file as UTF-8",
        )


#: Fields renamed in v1alpha1, with the hint a spec that still uses the old name gets.
_RETRY_ON_HINT = (
    "write 'retryOn': the field was renamed because YAML 1.1 readers "
    "(kubectl, the API server, PyYAML) read the key 'on' as the boolean true"
)
RENAMED_FIELDS: dict[tuple[type[BaseModel] | None, str], str] = {
    (Retries, "on"): _RETRY_ON_HINT,
    (Retries, "True"): _RETRY_ON_HINT,  # `on` as a YAML 1.1 reader hands it over
}


def _field_names(model: type[BaseModel]) -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        names.append(info.alias or name)
    return names


def _model_at(loc: Sequence[str | int], root: type[BaseModel]) -> type[BaseModel] | None:
    """The pydantic model a location inside a document refers to (for suggestions)."""
    model: Any = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = None
        for name, f in model.model_fields.items():
            if part in (name, f.alias):
                info = f
        if info is None:
            return model if isinstance(model, type) else None
        model = _inner_model(info.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    stack = [annotation]
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        stack.extend(getattr(a, "__args__", ()) or ())
    return None


def _path_text(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_DURATION_FIELDS = frozenset({"timeout", "perTryTimeout", "interval", "baseEjectionTime"})


def _is_cascade(loc: tuple[str | int, ...], err_type: str, all_locs: list[tuple[Any, ...]]) -> bool:
    """A 'too short' list whose items were already reported: the item is the real problem."""
    return err_type == "too_short" and any(
        len(other) > len(loc) and other[: len(loc)] == loc for other in all_locs
    )


def _schema_diagnostics(
    exc: ValidationError, raw: RawDocument, origin: Origin, kind: str
) -> list[Diagnostic]:
    root: type[BaseModel] = MeshDocument if kind == "Mesh" else ServiceDocument
    found: list[Diagnostic] = []
    errors = exc.errors(include_url=False)
    all_locs = [tuple(e["loc"]) for e in errors]
    for err in errors:
        loc = [p for p in err["loc"] if not (p in KINDS and p == err["loc"][0])]
        if _is_cascade(tuple(err["loc"]), err["type"], all_locs):
            continue
        location = origin.locate(tuple(loc))
        path = _path_text(loc)
        name = next((str(p) for p in reversed(loc) if isinstance(p, str)), kind)
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1], root)
            known = _field_names(parent) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else ""
            renamed = RENAMED_FIELDS.get((parent, str(loc[-1])))
            if renamed is not None:
                hint = renamed
            elif known and not hint:
                hint = "known fields here: " + ", ".join(sorted(known))
            found.append(
                codes.UNKNOWN_FIELD(
                    f"unknown field '{loc[-1]}': {kind} documents have no such field here",
                    location=location,
                    path=path,
                    hint=hint,
                )
            )
            continue
        if err["type"] == "missing":
            found.append(
                codes.SCHEMA(
                    f"missing field '{name}': it is required",
                    location=location,
                    path=path,
                    hint=f"add '{name}' here",
                )
            )
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        is_duration = name in _DURATION_FIELDS or "duration" in msg
        code = codes.BAD_DURATION if is_duration else codes.SCHEMA
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) else f" {value!r}"
        hint = (
            "write a duration such as '250ms', '10s' or '1m30s', between 1ms and 24h"
            if is_duration
            else f"see '{name}' in docs/spec.md"
        )
        found.append(
            code(f"bad value{shown} for '{name}': {msg}", location=location, path=path, hint=hint)
        )
    return found


def _check_document(raw: RawDocument, origin: Origin) -> tuple[Any, list[Diagnostic]]:
    data = raw.data
    here = origin.locate(())
    if not isinstance(data, dict):
        return None, [
            codes.NOT_A_MAPPING(
                f"document is a {_kind_of(data)}: a meshspec document is a mapping with "
                "apiVersion, kind, metadata and spec",
                location=here,
                hint="start the document with 'apiVersion: " + API_VERSION + "'",
            )
        ]
    api = data.get("apiVersion")
    kind = data.get("kind")
    ours = isinstance(api, str) and api.split("/")[0] == API_VERSION.split("/")[0]
    if api is None and kind in KINDS:
        return None, [
            codes.SCHEMA(
                f"missing field 'apiVersion': a {kind} document needs it",
                location=origin.locate(("kind",)),
                path="apiVersion",
                hint=f"add 'apiVersion: {API_VERSION}'",
            )
        ]
    if ours and api != API_VERSION:
        return None, [
            codes.SCHEMA(
                f"unsupported apiVersion {api!r}: this meshspec reads {API_VERSION}",
                location=origin.locate(("apiVersion",)),
                path="apiVersion",
                hint=f"write 'apiVersion: {API_VERSION}'",
            )
        ]
    if api != API_VERSION:
        what = (
            f"apiVersion {api!r}, kind {kind!r}"
            if api is not None or kind is not None
            else "no apiVersion and no kind"
        )
        return None, [
            codes.FOREIGN_DOCUMENT(
                f"document skipped: it has {what}, so it is not a meshspec document",
                location=here,
                hint=f"meshspec documents have apiVersion: {API_VERSION}; to read mesh "
                "resources use 'meshspec import --from <mesh>'",
            )
        ]
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        return None, [
            codes.UNKNOWN_KIND(
                f"unknown kind {kind!r}: meshspec documents are Mesh or Service",
                location=origin.locate(("kind",)),
                path="kind",
                hint=(f"did you mean '{close[0]}'? " if close else "")
                + "kinds: "
                + ", ".join(KINDS),
            )
        ]
    try:
        return _DOCUMENT.validate_python(data), []
    except ValidationError as exc:
        return None, _schema_diagnostics(exc, raw, origin, str(kind))


def _kind_of(data: object) -> str:
    if isinstance(data, list):
        return "list"
    if isinstance(data, str):
        return "string"
    if isinstance(data, bool):
        return "boolean"
    if isinstance(data, int | float):
        return "number"
    return type(data).__name__


def yaml_problem(name: str, exc: YamlProblem) -> Diagnostic:
    """The diagnostic for text that is not YAML we accept."""
    where = Location(name, exc.line or 1, exc.column or 1)
    if exc.too_large:
        return codes.TOO_LARGE(
            f"input refused: {exc.message}",
            location=where,
            hint="look for unclosed brackets or runaway indentation in this value"
            if "nested" in exc.message
            else "write the values out, or use fewer aliases of aliases",
        )
    if "duplicate key" in exc.message:
        return codes.DUPLICATE_KEY(
            f"duplicate key: {exc.message}", location=where, hint="keep one of the two keys"
        )
    return codes.YAML_SYNTAX(
        f"not valid YAML: {exc.message}", location=where, hint="fix the YAML syntax here"
    )


def _is_ours(data: Any) -> bool:
    return isinstance(data, dict) and data.get("apiVersion") == API_VERSION


def _ambiguous_values(name: str, raw: RawDocument) -> list[Diagnostic]:
    """A warning for each plain number other YAML readers read differently (once per place).

    Words such as `on`, `yes` or `y` are read as YAML 1.2 reads them, as strings, and the
    field decides: a string field keeps the text, a boolean field reads the word, so the
    spec means what it says under either reading. A number is different: `010` is 10 here
    and 8 for kubectl, so the file means two things.
    """
    found: list[Diagnostic] = []
    seen: set[tuple[int, int]] = set()
    for note in raw.ambiguous:
        if note.kind == "string" or (note.line, note.column) in seen:
            continue
        seen.add((note.line, note.column))
        found.append(
            codes.AMBIGUOUS_VALUE(
                f"value {note.text!r} is read differently by other tools: {note.yaml12} for "
                f"meshspec and YAML 1.2, {note.yaml11} for YAML 1.1 readers (kubectl, PyYAML)",
                location=Location(name, note.line, note.column),
                path=_path_text(note.path),
                hint="quote it if it is a string; write a number the same for both "
                "(e.g. 8 or 10 rather than 010, 1000 rather than 1e3)",
            )
        )
    return found


def load_texts(texts: Sequence[tuple[str, str]]) -> LoadResult:
    """Load (file name, text) pairs; the core of `load_paths`, also used by tests."""
    with cyclic_gc_paused():
        return _load_texts(texts)


def _load_texts(texts: Sequence[tuple[str, str]]) -> LoadResult:
    diagnostics: list[Diagnostic] = []
    documents: list[tuple[MeshDocument | ServiceDocument, Origin]] = []
    for name, text in texts:
        _log.debug("parsing %s", name, extra={"file": name})
        # Each document is checked as soon as it is read, so a file's plain data
        # is never all in memory at once; a YAML error drops the whole file.
        here: list[tuple[MeshDocument | ServiceDocument, Origin]] = []
        said: list[Diagnostic] = []
        found_here = 0
        try:
            for raw in iter_documents(text):
                if raw.data is None:
                    continue
                origin = Origin(name, raw.index, raw.positions)
                doc, problems = _check_document(raw, origin)
                said.extend(problems)
                if raw.ambiguous and _is_ours(raw.data):
                    said.extend(_ambiguous_values(name, raw))
                if doc is not None:
                    here.append((doc, origin))
                if doc is not None or any(p.code != codes.FOREIGN_DOCUMENT.code for p in problems):
                    found_here += 1
        except YamlProblem as exc:
            diagnostics.append(yaml_problem(name, exc))
            continue
        diagnostics.extend(said)
        documents.extend(here)
        if not found_here:
            diagnostics.append(
                codes.NO_DOCUMENTS(
                    "no meshspec document in this file: it is empty or holds only other documents",
                    location=Location(name, 1, 1),
                    hint=f"a meshspec file holds documents with apiVersion: {API_VERSION} "
                    "and kind: Mesh or Service",
                )
            )
    if not texts:
        diagnostics.append(
            codes.NO_DOCUMENTS("no input given: nothing to read", hint="name files or directories")
        )
    from meshspec.validation import validate_documents

    spec, semantic = validate_documents(documents)
    diagnostics.extend(semantic)
    return LoadResult(spec if documents else None, diagnostics)


def load_data(documents: Sequence[Any], name: str = "<data>") -> LoadResult:
    """Validate documents that are already parsed (e.g. received as JSON).

    Same checks as for files, without YAML: no line numbers to report, but
    no parsing cost either, which matters when many sidecars validate the
    same pushed spec.
    """
    diagnostics: list[Diagnostic] = []
    parsed: list[tuple[MeshDocument | ServiceDocument, Origin]] = []
    for index, data in enumerate(documents):
        origin = Origin(name, index, {})
        doc, problems = _check_document(RawDocument(data=data, index=index), origin)
        diagnostics.extend(problems)
        if doc is not None:
            parsed.append((doc, origin))
    from meshspec.validation import validate_documents

    spec, semantic = validate_documents(parsed)
    diagnostics.extend(semantic)
    if not parsed:
        diagnostics.append(codes.NO_DOCUMENTS(f"no meshspec document in {name}"))
    return LoadResult(spec if parsed else None, diagnostics)


def load_paths(paths: Iterable[str]) -> LoadResult:
    files, problems = expand_paths(paths)
    texts: list[tuple[str, str]] = []
    for name in files:
        text, problem = read_text(name)
        if problem:
            problems.append(problem)
        elif text is not None:
            texts.append(("<stdin>" if name == "-" else name, text))
    if not texts and problems:
        return LoadResult(None, problems)
    result = load_texts(texts)
    result.diagnostics[:0] = problems
    return result


def origin_key(doc: MeshDocument | ServiceDocument) -> str:
    if isinstance(doc, MeshDocument):
        return "mesh"
    return service_key(doc.metadata.namespace, doc.metadata.name)

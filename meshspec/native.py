"""Reading native mesh resources (Kubernetes-style YAML or JSON) with positions."""

from __future__ import annotations

from collections.abc import Iterable

from meshspec import codes
from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic, Location
from meshspec.loader import expand_paths, read_text, yaml_problem
from meshspec.spec import Origin
from meshspec.yaml_positions import PositionsWithin
from meshspec.yaml_source import YamlProblem, load_documents


def read_native(paths: Iterable[str]) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """Every mapping document in the files; lists of kind `List` are unpacked."""
    files, problems = expand_paths(paths, "the mesh's resources (YAML or JSON)")
    docs: list[NativeDocument] = []
    for name in files:
        text, problem = read_text(name)
        shown = "<stdin>" if name == "-" else name
        if problem:
            problems.append(problem)
            continue
        assert text is not None
        try:
            raws = load_documents(text)
        except YamlProblem as exc:
            problems.append(yaml_problem(shown, exc))
            continue
        found = 0
        for raw in raws:
            if raw.data is None:
                continue
            if not isinstance(raw.data, dict):
                problems.append(
                    codes.NOT_A_MAPPING(
                        "a resource is a mapping with apiVersion and kind",
                        location=Origin(shown, raw.index, raw.positions).locate(),
                    )
                )
                continue
            if raw.data.get("kind") == "List" and isinstance(raw.data.get("items"), list):
                for i, item in enumerate(raw.data["items"]):
                    if isinstance(item, dict):
                        sub = PositionsWithin(raw.positions, ("items", i))
                        docs.append(NativeDocument(item, Origin(shown, raw.index, sub)))
                        found += 1
                continue
            docs.append(NativeDocument(raw.data, Origin(shown, raw.index, raw.positions)))
            found += 1
        if not found:
            problems.append(
                codes.NO_DOCUMENTS(
                    "no resources in this file",
                    location=Location(shown, 1, 1),
                    hint="a file to import holds the mesh's own resources "
                    "(apiVersion, kind, metadata), such as kubectl get -o yaml prints",
                )
            )
    return docs, problems


def read_native_for(
    source: str, paths: Iterable[str]
) -> tuple[list[NativeDocument], list[Diagnostic]]:
    """`read_native`, or the source adapter's own reader where it has one (`read_files`:
    file formats besides YAML and JSON, such as Consul's HCL)."""
    from meshspec.errors import UnknownTarget
    from meshspec.registry import get_adapter

    try:
        adapter = get_adapter(source)
    except UnknownTarget:
        return read_native(paths)
    reader = getattr(adapter, "read_files", None)
    if reader is None:
        return read_native(paths)
    docs, problems = reader(list(paths))
    return list(docs), list(problems)

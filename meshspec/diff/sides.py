"""Reading one side of a comparison: spec files, a git revision, a mesh's resources,
or a live cluster.

`git:REV:PATH` reads PATH (a file or a directory) as it is at revision REV of
the repository around the current directory. `live:` (the current kubeconfig
context) or `live:CONTEXT` reads the mesh's resources from a cluster. `--from
MESH` names the mesh whose resources a live side, file or revision holds; they
are imported through that mesh's adapter (found in the registry), so both
sides are neutral specs the oracle can answer for. A file or revision whose
documents are all neutral spec documents is read as a spec even with `--from`,
so a cluster can be compared with the spec meant to replace what runs in it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from meshspec.adapter import NativeDocument
from meshspec.diagnostics import Diagnostic, has_errors
from meshspec.errors import MeshSpecError
from meshspec.live import ClusterRef, is_live, live_label, parse_live, read_live
from meshspec.loader import load_texts
from meshspec.native import read_native_for
from meshspec.registry import get_adapter
from meshspec.spec import Origin, Spec
from meshspec.spec.document import API_VERSION
from meshspec.yaml_source import YamlProblem, load_documents

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


class SideError(MeshSpecError):
    """A side cannot be read (no such revision or path, or its spec has errors)."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)


@dataclass
class Side:
    label: str
    spec: Spec
    diagnostics: list[Diagnostic] = field(default_factory=list)


def read_side(
    location: str, source_mesh: str | None = None, cluster: ClusterRef | None = None
) -> Side:
    """One side as a neutral spec; `cluster` is the kubeconfig and context a bare
    `live:` means (kubectl's defaults when None)."""
    if is_live(location):
        if source_mesh is None:
            raise SideError(f"{location}: a live side needs --from MESH (e.g. --from istio)")
        where = parse_live(location, cluster or ClusterRef())
        docs, problems = read_live(source_mesh, where)
        if has_errors(problems):
            raise SideError(f"cannot read the cluster ({live_label(where)})", problems)
        return _imported(live_label(where), source_mesh, docs, problems)
    from_git = location.startswith("git:")
    if source_mesh is None:
        return _neutral(location, _git_texts(location) if from_git else _file_texts(location))
    if from_git:
        texts = _git_texts(location)
        docs, problems = _native(texts)
    else:
        if not Path(location).exists():
            raise SideError(f"{location}: no such file or directory")
        docs, problems = read_native_for(source_mesh, [location])
    neutral = [d for d in docs if str(d.data.get("apiVersion", "")) == API_VERSION]
    if docs and len(neutral) == len(docs):
        return _neutral(location, texts if from_git else _file_texts(location))
    if neutral:
        raise SideError(
            f"{location}: mixes neutral spec documents ({API_VERSION}) with {source_mesh} "
            "resources; give each as a side of its own"
        )
    return _imported(location, source_mesh, docs, problems)


def _neutral(location: str, texts: list[tuple[str, str]]) -> Side:
    result = load_texts(texts)
    if not result.ok or result.spec is None:
        raise SideError(f"{location}: the spec has errors", result.diagnostics)
    return Side(location, result.spec, result.diagnostics)


def _imported(
    location: str, source_mesh: str, docs: list[NativeDocument], problems: list[Diagnostic]
) -> Side:
    imported = get_adapter(source_mesh).import_resources(docs)
    diags = [*problems, *imported.diagnostics]
    if imported.spec is None or has_errors(diags):
        raise SideError(f"{location}: importing from {source_mesh} failed", diags)
    return Side(location, imported.spec, diags)


def _file_texts(location: str) -> list[tuple[str, str]]:
    path = Path(location)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in SPEC_SUFFIXES and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise SideError(f"{location}: no such file or directory")
    try:
        return [(str(p), p.read_text(encoding="utf-8")) for p in files]
    except (OSError, UnicodeDecodeError) as exc:
        raise SideError(f"{location}: cannot read: {exc}") from None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SideError(f"git {' '.join(args)}: {exc}") from None
    if done.returncode != 0:
        raise SideError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def _git_texts(location: str) -> list[tuple[str, str]]:
    _, _, rest = location.partition(":")
    rev, sep, path = rest.partition(":")
    if not sep or not rev:
        raise SideError(f"{location}: write git:REVISION:PATH, e.g. git:main:examples/canary/")
    path = path.strip("/") or "."
    listing = _git("ls-tree", "-r", "--name-only", "--full-tree", rev, "--", path)
    names = [n for n in listing.splitlines() if n.endswith(SPEC_SUFFIXES)]
    if not names:
        raise SideError(f"{location}: no spec files at {path} in revision {rev}")
    return [(f"{rev}:{n}", _git("show", f"{rev}:{n}")) for n in names]


def _native(texts: list[tuple[str, str]]) -> tuple[list[NativeDocument], list[Diagnostic]]:
    from meshspec import codes
    from meshspec.loader import yaml_problem

    docs: list[NativeDocument] = []
    problems: list[Diagnostic] = []
    for name, text in texts:
        try:
            raws = load_documents(text)
        except YamlProblem as exc:
            problems.append(yaml_problem(name, exc))
            continue
        for raw in raws:
            if raw.data is None:
                continue
            origin = Origin(name, raw.index, raw.positions)
            if not isinstance(raw.data, dict):
                problems.append(
                    codes.NOT_A_MAPPING(
                        "a resource is a mapping with apiVersion and kind",
                        location=origin.locate(),
                    )
                )
                continue
            items = raw.data.get("items")
            if raw.data.get("kind") == "List" and isinstance(items, list):
                docs.extend(
                    NativeDocument(item, replace(origin, positions={}))
                    for item in items
                    if isinstance(item, dict)
                )
                continue
            docs.append(NativeDocument(raw.data, origin))
    return docs, problems

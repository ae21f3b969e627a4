"""The spec the control plane serves: loaded from files, re-read when they change.

Polling modification times needs no platform watcher and behaves the same
everywhere. A bad edit is reported and the last good spec stays in force, so a
typo never takes routing away from running sidecars.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from meshspec.diagnostics import Diagnostic, render_text
from meshspec.loader import expand_paths, load_paths
from meshspec.spec import Spec
from meshspec.spec.document import MeshDocument

log = logging.getLogger("meshspec.control_plane.store")

FileStamp = tuple[str, int, int]


@dataclass(frozen=True)
class LoadedSpec:
    """A spec that passed validation, with the documents sidecars receive."""

    spec: Spec
    documents: tuple[dict[str, Any], ...]


def documents_of(spec: Spec) -> tuple[dict[str, Any], ...]:
    """Plain documents that load back to the same spec (the snapshot carries these)."""
    docs: list[dict[str, Any]] = []
    if spec.mesh_metadata is not None:
        mesh = MeshDocument(
            api_version="meshspec.io/v1alpha1",
            kind="Mesh",
            metadata=spec.mesh_metadata,
            spec=spec.mesh,
        )
        docs.append(mesh.model_dump(mode="json", by_alias=True, exclude_none=True))
    docs.extend(s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in spec)
    return tuple(docs)


class SpecStore:
    """The last good spec of some paths, and a generation that counts changes to it."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        self.current: LoadedSpec | None = None
        self.generation = 0
        self.problems: list[Diagnostic] = []
        self._stamps: tuple[FileStamp, ...] | None = None

    def _stamp(self) -> tuple[FileStamp, ...]:
        files, _ = expand_paths(self.paths)
        stamps: list[FileStamp] = []
        for name in files:
            try:
                st = os.stat(name)
            except OSError:
                stamps.append((name, -1, -1))
                continue
            stamps.append((name, st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def reload(self) -> bool:
        """Read the files now; True when a new good spec replaced the old one."""
        self._stamps = self._stamp()
        result = load_paths(self.paths)
        if not result.ok or result.spec is None:
            self.problems = [d for d in result.diagnostics if d.severity == "error"]
            log.error(
                "spec has errors; keeping the last good one (generation %d):\n%s",
                self.generation,
                render_text(self.problems),
            )
            return False
        self.problems = []
        documents = documents_of(result.spec)
        if self.current is not None and self.current.documents == documents:
            return False
        self.current = LoadedSpec(result.spec, documents)
        self.generation += 1
        log.info("spec generation %d: %d services", self.generation, len(result.spec.services))
        return True

    def poll(self) -> bool:
        """Reload only when a file's size or modification time changed."""
        if self._stamps is not None and self._stamp() == self._stamps:
            return False
        return self.reload()

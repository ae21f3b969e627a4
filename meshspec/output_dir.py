"""`--output-dir`: write only into a directory meshspec owns, all files or none.

A directory is owned when it is empty (or absent) or holds the manifest
meshspec left there. Each write replaces what the previous write listed, so
files of an earlier spec never linger beside the new ones; files that
meshspec did not write are never touched, and a directory holding such files
without a manifest is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: no .yaml/.json suffix, so neither meshspec nor `kubectl apply -f DIR` reads it as input
MANIFEST = ".meshspec-output"
_TEMP_PREFIX = ".meshspec-"


class OutputDirError(Exception):
    """Nothing was written; the message says why and what to do."""


def _owned(dest: Path) -> set[str]:
    """Files an earlier write listed; raises when the directory is not ours."""
    manifest = dest / MANIFEST
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            files = data["files"]
        except (OSError, ValueError, KeyError, TypeError):
            raise OutputDirError(
                f"{manifest} is damaged; remove the directory or pick another --output-dir"
            ) from None
        return {str(f) for f in files if isinstance(f, str) and "/" not in f and f != MANIFEST}
    foreign = sorted(p.name for p in dest.iterdir() if not p.name.startswith(_TEMP_PREFIX))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputDirError(
            f"{dest} is not empty and was not written by meshspec ({shown}); "
            "pick an empty or new --output-dir"
        )
    return set()


def write_owned(files: Mapping[str, str], output_dir: str) -> None:
    """Write `files` (name -> text) into `output_dir`, removing what an earlier
    write left that is not rewritten now. On any failure, what was there stays."""
    dest = Path(output_dir)
    if dest.exists() and not dest.is_dir():
        raise OutputDirError(f"{dest} is not a directory")
    owned = _owned(dest) if dest.is_dir() else set()
    for name in files:
        target = dest / name
        if target.is_dir():
            raise OutputDirError(f"{target} is a directory; remove it or pick another --output-dir")
        if target.exists() and name not in owned:
            raise OutputDirError(f"{target} exists and was not written by meshspec")
    stale = sorted(name for name in owned - set(files) if (dest / name).is_file())
    manifest = json.dumps({"files": sorted(files)}, indent=2) + "\n"
    try:
        dest.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=dest))
    except OSError as exc:
        raise OutputDirError(f"{output_dir}: {exc.strerror or exc}") from None
    #: (path now in place, backup of what was there or None)
    done: list[tuple[Path, Path | None]] = []
    try:
        for name, text in [*files.items(), (MANIFEST, manifest)]:
            (tmp / name).write_text(text, encoding="utf-8")
        for name in [*files, MANIFEST]:
            target = dest / name
            backup = tmp / (name + ".previous") if target.exists() else None
            if backup is not None:
                os.replace(target, backup)
            done.append((target, backup))
            os.replace(tmp / name, target)
        for name in stale:
            backup = tmp / (name + ".stale")
            os.replace(dest / name, backup)
            done.append((backup, None))  # undo = move back below
    except OSError as exc:
        for target, backup in reversed(done):
            if backup is not None:
                os.replace(backup, target)
            elif target.parent == tmp:
                os.replace(target, dest / target.name.removesuffix(".stale"))
            else:
                target.unlink(missing_ok=True)
        raise OutputDirError(str(exc)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

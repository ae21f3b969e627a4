"""Writing a plan's directory: all files or none."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from meshspec.errors import MeshSpecError


class WriteError(MeshSpecError):
    """The output directory could not be written; nothing was changed."""


def write_tree(files: dict[str, str], output_dir: str) -> None:
    """Build the whole tree beside `output_dir`, then swap its top-level entries in."""
    dest = Path(output_dir)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".meshspec-plan-", dir=dest))
    except OSError as exc:
        raise WriteError(f"nothing written: {output_dir}: {exc.strerror}") from None
    try:
        for name, text in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for top in sorted({name.split("/", 1)[0] for name in files}):
            target = dest / top
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(tmp / top, target)
    except OSError as exc:
        raise WriteError(f"writing {output_dir} failed: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

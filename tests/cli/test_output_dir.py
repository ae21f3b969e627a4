"""`--output-dir` writes all files or none, also when it removes an earlier run's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meshspec import output_dir
from meshspec.output_dir import MANIFEST, OutputDirError, write_owned


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_stale_files_go_and_the_manifest_lists_what_is_there(tmp_path: Path) -> None:
    write_owned({"a.yaml": "a\n", "b.yaml": "b\n"}, str(tmp_path))
    write_owned({"b.yaml": "B\n", "c.yaml": "c\n"}, str(tmp_path))
    assert _snapshot(tmp_path) == {
        MANIFEST: b'{\n  "files": [\n    "b.yaml",\n    "c.yaml"\n  ]\n}\n',
        "b.yaml": b"B\n",
        "c.yaml": b"c\n",
    }


@pytest.mark.parametrize("fail_at", range(1, 7))
def test_a_failure_at_any_step_leaves_the_directory_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    write_owned({"a.yaml": "a\n", "b.yaml": "b\n"}, str(tmp_path))
    before = _snapshot(tmp_path)
    calls = {"n": 0}
    real_replace = os.replace

    def flaky(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(output_dir.os, "replace", flaky)
    with pytest.raises(OutputDirError):
        write_owned({"b.yaml": "B\n", "c.yaml": "c\n"}, str(tmp_path))
    monkeypatch.undo()
    assert _snapshot(tmp_path) == before


def test_a_damaged_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(OutputDirError, match="damaged"):
        write_owned({"a.yaml": "a\n"}, str(tmp_path))


def test_a_manifest_cannot_reach_outside_the_directory(tmp_path: Path) -> None:
    outside = tmp_path / "keep.yaml"
    outside.write_text("keep\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text('{"files": ["../keep.yaml", "/etc/hostname"]}')
    write_owned({"a.yaml": "a\n"}, str(out))
    assert outside.read_text() == "keep\n"

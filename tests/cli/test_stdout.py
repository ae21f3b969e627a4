"""Results larger than one system call can carry reach standard output whole."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshspec.stdout import echo_result

#: past the 2,147,479,552 bytes one write(2) takes on Linux, with a tail that
#: a single write would lose
HUGE = 2**31 + 5_000


def test_a_result_over_two_gib_arrives_whole_unbuffered(tmp_path: Path) -> None:
    """With PYTHONUNBUFFERED, `click.echo` of this text kept 2,147,479,552 bytes."""
    out = tmp_path / "out.txt"
    program = f"from meshspec.stdout import echo_result; echo_result('a' * {HUGE} + 'END')"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("wb") as sink:
        done = subprocess.run([sys.executable, "-c", program], stdout=sink, env=env, check=False)
    assert done.returncode == 0
    assert out.stat().st_size == HUGE + 3
    with out.open("rb") as f:
        f.seek(-3, 2)
        assert f.read() == b"END"


class _TakesAFew(io.RawIOBase):
    """A descriptor that takes at most a few bytes a call, as write(2) may."""

    def __init__(self) -> None:
        self.got = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        taken = bytes(data[:5])
        self.got += taken
        return len(taken)


def test_partial_writes_are_continued(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _TakesAFew()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8"))  # type: ignore[type-var]
    text = "".join(chr(0x61 + i % 26) for i in range(1_000)) + "é€😀"
    echo_result(text, piece=7)
    assert raw.got.decode("utf-8") == text

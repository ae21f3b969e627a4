"""Results larger than one system call can carry reach standard output whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from meshspec.stdout import echo_result

#: past the 2,147,479,552 bytes one write(2) takes on Linux, with a tail that
#: a single write would lose
HUGE = 2**31 + 5_000


def test_a_result_over_two_gib_arrives_whole(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    program = f"from meshspec.stdout import echo_result; echo_result('a' * {HUGE} + 'END')"
    with out.open("wb") as sink:
        done = subprocess.run([sys.executable, "-c", program], stdout=sink, check=False)
    assert done.returncode == 0
    assert out.stat().st_size == HUGE + 3
    with out.open("rb") as f:
        f.seek(-3, 2)
        assert f.read() == b"END"


def test_pieces_join_to_the_text_in_order() -> None:
    text = "".join(chr(0x61 + i % 26) for i in range(1_000)) + "é€😀"

    @click.command()
    def emit() -> None:
        echo_result(text, piece=7)

    result = CliRunner().invoke(emit)
    assert result.exit_code == 0
    assert result.output == text

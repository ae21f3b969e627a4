"""docs/cli.md is current: it is what the program prints, and it documents every
exit code and every diagnostic code the program can emit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshspec.cli import main
from meshspec.cli_docs import command_helps, load_all_codes, render
from meshspec.cli_options import EXIT_CODES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"
PACKAGES = ("meshspec", "adapters", "reference_impl", "conformance")


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_document_is_current() -> None:
    assert _doc() == render(), "docs/cli.md is stale: run scripts/gen-cli-docs"


def _registered_in_source() -> set[str]:
    """Every code any module of ours registers, found in the source itself, so a
    code module the generator does not import is still caught."""
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found |= set(re.findall(r"""register\(\s*["'](MS\d+)["']""", path.read_text()))
    return found


def test_every_code_the_program_can_emit_is_documented() -> None:
    catalogue = set(load_all_codes())
    in_source = _registered_in_source()
    assert in_source and in_source <= catalogue, in_source - catalogue
    documented = set(re.findall(r"^\| (MS\d+) \|", _doc(), re.M))
    assert catalogue - documented == set()
    assert documented - catalogue == set()


def test_every_exit_code_is_documented() -> None:
    doc = _doc()
    for code, _ in EXIT_CODES:
        assert re.search(rf"^\| {code} \| \S", doc, re.M), code


@pytest.mark.parametrize("command", sorted(command_helps()))
def test_the_document_shows_what_help_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # help is at most 100 wide, like the document
    args = ["--help"] if command == "meshspec" else [command, "--help"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    title = "meshspec" if command == "meshspec" else f"meshspec {command}"
    section = _doc().split(f"### `{title}`\n", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    # the same text; line breaks depend on the terminal's width
    assert "".join(printed.split()) == "".join(section.split())

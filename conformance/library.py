"""Finding and loading case files; a broken or duplicate case stops the run.

Built-in cases live in `conformance/cases/<profile>/*.yaml`; users can point
at their own directories with the same format.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from conformance.case import CaseFile, LoadedCase
from meshspec.loader import load_texts
from meshspec.yaml_source import YamlProblem, load_documents

BUILTIN_DIR = Path(__file__).parent / "cases"


class CaseError(ValueError):
    """A case file that cannot be used; the message names the file."""


def case_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml"))


def read_case_file(path: Path) -> CaseFile:
    try:
        documents = load_documents(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CaseError(f"{path}: cannot read: {exc}") from None
    except YamlProblem as exc:
        raise CaseError(f"{path}:{exc.line}:{exc.column}: cannot read: {exc.message}") from None
    if len(documents) > 1:
        raise CaseError(f"{path}: cannot read: a case file holds one YAML document")
    data = documents[0].data if documents else None
    try:
        case_file = CaseFile.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}{_shown(e.get('input'))}"
            for e in exc.errors()
        ]
        raise CaseError(f"{path}: not a valid case file:\n" + "\n".join(lines)) from None
    loaded = load_texts([(f"{path}#spec", case_file.spec)])
    if not loaded.ok:
        errors = [d.render() for d in loaded.diagnostics if d.severity == "error"]
        raise CaseError(f"{path}: the spec has errors:\n" + "\n".join(errors))
    return case_file


def _shown(value: object) -> str:
    return "" if isinstance(value, dict | list | tuple) or value is None else f" (got {value!r})"


def load_cases(directories: Iterable[Path | str]) -> list[LoadedCase]:
    """Every case below `directories`, in file order; duplicate names are an error."""
    seen: dict[str, str] = {}
    out: list[LoadedCase] = []
    for directory in directories:
        root = Path(directory)
        files = [root] if root.is_file() else case_files(root)
        if not files:
            raise CaseError(f"{root}: no case files (*.yaml) found")
        for path in files:
            case_file = read_case_file(path)
            for case in case_file.cases:
                if case.name in seen:
                    raise CaseError(
                        f"{path}: case name '{case.name}' is already used in {seen[case.name]}"
                    )
                seen[case.name] = str(path)
                out.append(
                    LoadedCase(
                        case=case,
                        profile=case_file.profile,
                        spec_text=case_file.spec,
                        source=str(path),
                        instances=case_file.instances,
                    )
                )
    return out


def builtin_cases() -> list[LoadedCase]:
    return load_cases([BUILTIN_DIR])

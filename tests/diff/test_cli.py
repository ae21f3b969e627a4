"""`meshspec diff` on the command line: sides, formats, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from meshspec.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _canary(tmp_path: Path, old: str, new: str, name: str = "mesh.yaml") -> Path:
    text = (EXAMPLES / "canary" / "mesh.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fail_on", "code"), [(None, 0), ("security", 0), ("traffic", 1), ("any", 1)]
)
def test_fail_on_sets_the_exit_code_by_kind(
    fail_on: str | None, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = _canary(tmp_path, "weight: 90", "weight: 70")
    args = ["diff", str(EXAMPLES / "canary" / "mesh.yaml"), str(edited)]
    assert main([*args, *(["--fail-on", fail_on] if fail_on else [])]) == code
    assert "[traffic]" in capsys.readouterr().out


def test_a_security_difference_fails_fail_on_security(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = _canary(
        tmp_path, "name: shop\nspec:\n", "name: shop\nspec:\n  mtls: {mode: DISABLE}\n"
    )
    code = main(
        [
            "diff",
            str(EXAMPLES / "canary" / "mesh.yaml"),
            str(edited),
            "-o",
            "json",
            "--fail-on",
            "security",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {d["category"] for d in report["differences"]} == {"security"}
    assert all(d["request"]["destination"].startswith("shop/") for d in report["differences"])


def test_equal_sides_say_how_many_requests_were_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _canary(tmp_path, "weight: 90", "weight: 90")
    args = ["diff", str(EXAMPLES / "canary" / "mesh.yaml"), str(copy), "-o", "markdown"]
    assert main([*args, "--fail-on", "any"]) == 0
    out = capsys.readouterr().out
    assert "No request behaves differently" in out and "service(s) not asked" in out


def test_a_git_revision_is_one_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _canary(tmp_path, "weight: 90", "weight: 90", "m.yaml")
    monkeypatch.chdir(tmp_path)
    for cmd in (
        ["init", "-q"],
        ["add", "m.yaml"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
    ):
        subprocess.run(["git", *cmd], check=True, cwd=tmp_path)
    spec.write_text(spec.read_text().replace("attempts: 3", "attempts: 1"), encoding="utf-8")
    assert main(["diff", "git:HEAD:m.yaml", "m.yaml", "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [set(d["changes"]) for d in report["differences"]] == [{"retries"}]
    assert report["differences"][0]["category"] == "resilience"


def test_a_missing_side_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["diff", str(tmp_path / "nope.yaml"), str(EXAMPLES / "canary" / "mesh.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert "no such file or directory" in err and "Traceback" not in err


def test_a_side_with_errors_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _canary(tmp_path, "weight: 90", "weight: ninety")
    code = main(["diff", str(EXAMPLES / "canary" / "mesh.yaml"), str(broken)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{broken}:" in err and "Traceback" not in err


def test_native_sides_are_imported_through_the_adapter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two versions of compiled Istio resources: the weight change and nothing else."""
    edited = _canary(tmp_path, "weight: 90", "weight: 70")
    edited_text = edited.read_text(encoding="utf-8").replace("weight: 10\n", "weight: 30\n")
    edited.write_text(edited_text, encoding="utf-8")
    sides = []
    for name, spec in (("old", EXAMPLES / "canary" / "mesh.yaml"), ("new", edited)):
        out = tmp_path / name
        assert main(["compile", "--target", "istio", str(spec), "--output-dir", str(out)]) == 0
        sides.append(str(out))
    capsys.readouterr()
    assert main(["diff", "--from", "istio", *sides, "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [set(d["changes"]) for d in report["differences"]] == [{"backends"}, {"backends"}]
    assert main(["diff", "--from", "istio", sides[0], sides[0], "--fail-on", "any"]) == 0
    assert "no differences" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--live", "a.yaml", "b.yaml"], "with --live give only NEW"),
        (["--live", "a.yaml"], "a live side needs --from MESH"),
        (["live:prod", "a.yaml"], "a live side needs --from MESH"),
        (["a.yaml", "b.yaml", "--context", "prod"], "--kubeconfig and --context need a live side"),
        (["a.yaml"], "give two sides: OLD NEW"),
        (["--from", "nomesh", "--live", "a.yaml"], "nomesh"),
    ],
)
def test_sides_that_cannot_be_read_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_kubeconfig_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "kubeconfig"
    args = ["--from", "istio", "--kubeconfig", str(missing), "--live"]
    code = main(["diff", *args, str(EXAMPLES / "canary" / "mesh.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot read the kubeconfig {missing}: no such file" in err and "Traceback" not in err


def test_with_from_a_neutral_spec_side_is_read_as_a_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--from istio` compares Istio resources with the spec meant to replace them;
    a file mixing the two is refused, not half imported."""
    compiled = tmp_path / "istio"
    spec = EXAMPLES / "canary" / "mesh.yaml"
    compile_args = ["compile", "-t", "istio", str(spec), "--with-workloads"]
    assert main([*compile_args, "--output-dir", str(compiled)]) == 0
    capsys.readouterr()
    assert main(["diff", "--from", "istio", str(compiled), str(spec), "--fail-on", "any"]) == 0
    assert capsys.readouterr().out.startswith("no differences")
    mixed = tmp_path / "mixed.yaml"
    first = sorted(compiled.glob("virtualservice-*.yaml"))[0]
    mixed.write_text(spec.read_text() + "\n---\n" + first.read_text(), encoding="utf-8")
    assert main(["diff", "--from", "istio", str(compiled), str(mixed)]) == 1
    assert "mixes neutral spec documents" in capsys.readouterr().err


def test_plan_takes_its_source_from_files_or_a_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["plan", "--from", "istio", "--to", "reference"]
    assert main([*base, "--live", str(tmp_path)]) == 2
    assert "files or --live, not both" in capsys.readouterr().err
    assert main([*base, str(tmp_path), "--context", "prod"]) == 2
    assert "add --live" in capsys.readouterr().err
    assert main(base) == 2
    assert "or --live" in capsys.readouterr().err

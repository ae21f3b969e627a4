"""Conventions users bring from kubectl, istioctl and helm, and output that says
what it means: `-f` is a file, JSON output is a `kind: List`, `--output-dir`
owns what it writes, every option has help, planned meshes are named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from ruamel.yaml import YAML

from meshspec import cli, codes
from meshspec.adapter import CompileOptions, CompileResult
from meshspec.cli import main
from meshspec.registry import PLANNED, available_targets, planned_targets
from meshspec.spec import Spec

ROOT = Path(__file__).resolve().parents[2]
BOOKINFO = str(ROOT / "examples" / "bookinfo" / "mesh.yaml")
CANARY = str(ROOT / "examples" / "canary" / "mesh.yaml")
REGEX_AUTHZ = """\
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: api}
spec:
  authorization:
    default: deny
    rules:
      - name: admin
        action: ALLOW
        from: [{services: [api]}]
        to: {paths: [{regex: "/admin/[0-9]+"}]}
"""


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _docs(text: str) -> list[object]:
    return [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]


# --- -f means file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "-f", BOOKINFO],
        ["validate", "--filename", BOOKINFO],
        ["compile", "-t", "istio", "-f", BOOKINFO],
        ["explain", "-f", BOOKINFO, "--from", "productpage", "--to", "reviews", "--path", "/"],
    ],
)
def test_f_is_a_file(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, _, err = _run(capsys, *args)
    assert code == 0, err


def test_f_and_positional_paths_give_the_same_output(capsys: pytest.CaptureFixture[str]) -> None:
    _, positional, _ = _run(capsys, "compile", "-t", "istio", BOOKINFO)
    _, with_f, _ = _run(capsys, "compile", "-t", "istio", "-f", BOOKINFO)
    assert positional == with_f and positional


def test_import_f_reads_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "istio"
    # With the workloads, the import reads who runs each service instead of guessing.
    args = ["compile", "-t", "istio", BOOKINFO, "--with-workloads", "--output-dir", str(out_dir)]
    assert _run(capsys, *args)[0] == 0
    code, out, err = _run(capsys, "import", "--from", "istio", "-f", str(out_dir))
    assert code == 0, err
    kinds = sorted(str(d["kind"]) for d in _docs(out))  # type: ignore[index]
    assert "Service" in kinds


def test_import_f_without_from_asks_for_from(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "import", "-f", "x.yaml")
    assert code == 2 and "--from" in err and "unknown target" not in err


def test_a_file_given_as_from_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "import", "--from", "x.yaml")
    assert code == 2 and "--from names the source mesh" in err and "-f" in err


def test_from_has_no_short_form() -> None:
    ctx = click.Context(cli.cli)
    command = cli.cli.get_command(ctx, "import")
    assert command is not None
    (source,) = [p for p in command.params if p.name == "source"]
    assert source.opts == ["--from"]


# --- compile -o json is a kind: List ------------------------------------------------------


def test_json_is_a_list_kubectl_applies(capsys: pytest.CaptureFixture[str]) -> None:
    _, yaml_out, _ = _run(capsys, "compile", "-t", "istio", BOOKINFO)
    code, json_out, _ = _run(capsys, "compile", "-t", "istio", BOOKINFO, "-o", "json")
    assert code == 0
    listed = json.loads(json_out)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    assert listed["items"] == _docs(yaml_out)
    assert all({"apiVersion", "kind", "metadata"} <= set(item) for item in listed["items"])


def test_json_files_in_an_output_dir_hold_one_object_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert (
        _run(
            capsys, "compile", "-t", "istio", BOOKINFO, "-o", "json", "--output-dir", str(tmp_path)
        )[0]
        == 0
    )
    files = sorted(tmp_path.glob("*.json"))
    assert files
    for f in files:
        obj = json.loads(f.read_text())
        assert isinstance(obj, dict) and {"apiVersion", "kind", "metadata"} <= set(obj)


# --- --output-dir owns what it writes -------------------------------------------------------


def _listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_a_second_spec_replaces_the_first_one_s_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    fresh = tmp_path / "fresh"
    assert _run(capsys, "compile", "-t", "istio", BOOKINFO, "--output-dir", str(out))[0] == 0
    assert _run(capsys, "compile", "-t", "istio", CANARY, "--output-dir", str(out))[0] == 0
    assert _run(capsys, "compile", "-t", "istio", CANARY, "--output-dir", str(fresh))[0] == 0
    assert _listing(out) == _listing(fresh)
    for name in _listing(fresh):
        assert (out / name).read_bytes() == (fresh / name).read_bytes()


def test_a_directory_meshspec_did_not_write_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    code, _, err = _run(capsys, "compile", "-t", "istio", BOOKINFO, "--output-dir", str(tmp_path))
    assert code == 1 and "not empty and was not written by meshspec" in err
    assert _listing(tmp_path) == ["notes.txt"]


def test_files_meshspec_did_not_write_are_kept_or_protected(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _run(capsys, "compile", "-t", "istio", BOOKINFO, "--output-dir", str(tmp_path))[0] == 0
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    assert _run(capsys, "compile", "-t", "istio", CANARY, "--output-dir", str(tmp_path))[0] == 0
    assert (tmp_path / "kustomization.yaml").read_text() == "resources: []\n"
    # a file of the user's where meshspec would write: refused, nothing changes
    _, yaml_out, _ = _run(capsys, "compile", "-t", "istio", BOOKINFO)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    victim = sorted(set(cli._file_name(d) for d in _docs(yaml_out)) - set(before))[0]  # type: ignore[arg-type]
    (tmp_path / victim).write_text("user's\n")
    before[victim] = b"user's\n"
    code, _, err = _run(capsys, "compile", "-t", "istio", BOOKINFO, "--output-dir", str(tmp_path))
    assert code == 1 and "was not written by meshspec" in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# --- messages that say what is true ---------------------------------------------------------


def test_security_loss_message_names_the_flag_that_helps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text(REGEX_AUTHZ)
    code, _, err = _run(capsys, "compile", "-t", "istio", str(spec))
    assert code == 1 and "MS1010" in err
    assert "--allow-lossy authz" in err
    # and the advice is true
    assert _run(capsys, "compile", "-t", "istio", str(spec), "--allow-lossy", "authz")[0] == 0


class _FailingAdapter:
    name = "fake"
    description = "reports an error that no flag allows"
    files = None

    def compile(self, spec: Spec, options: CompileOptions) -> CompileResult:
        return CompileResult([], [codes.SCHEMA("cannot express this", target="fake")])


def test_other_errors_do_not_suggest_allow_lossy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import meshspec.api

    monkeypatch.setattr(cli, "get_adapter", lambda name: _FailingAdapter())
    monkeypatch.setattr(meshspec.api, "get_adapter", lambda name: _FailingAdapter())
    code, _, err = _run(capsys, "compile", "-t", "fake", BOOKINFO)
    assert code == 1 and "nothing written: fix the errors above" in err
    assert "allow-lossy" not in err


def test_a_broken_spec_says_nothing_was_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {name: a}\nspec: {x: 1}\n"
    )
    code, _, err = _run(capsys, "compile", "-t", "istio", str(spec))
    assert code == 1 and "nothing written: the spec has errors" in err and "allow-lossy" not in err


def test_explain_text_reads_as_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(
        capsys, "explain", BOOKINFO, "--from", "productpage", "--to", "reviews", "--path", "/"
    )
    assert "forwarded: forwarded" not in out and "STRICT/mtls" not in out
    assert "outcome   forwarded to the backends below" in out
    assert "mTLS mode STRICT: the connection uses mTLS" in out
    assert "authorization: allow by rule productpage-reads" in out


def test_import_of_an_empty_directory_hints_at_the_mesh_s_resources(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "import", "--from", "istio", str(tmp_path))
    assert code == 1
    assert "the mesh's resources" in err and "meshspec documents" not in err


# --- targets, help, completion -------------------------------------------------------------


def test_targets_lists_installed_then_planned(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "targets")
    lines = dict(line.split("\t", 1) for line in out.splitlines())
    assert code == 0 and "planned" not in lines["istio"]
    for name in PLANNED:
        planned = lines[name].startswith("planned, not installed")
        assert planned == (name not in available_targets()), name


@pytest.mark.parametrize("command", ["compile", "import", "conformance"])
def test_a_planned_target_reads_as_not_installed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # every mesh planned so far ships an adapter: plan one that does not
    monkeypatch.setitem(PLANNED, "kuma", "Kuma (MeshHTTPRoute, MeshTrafficPermission)")
    (name,) = planned_targets()
    flag = "--from" if command == "import" else "--target"
    args = [command, flag, name] + ([] if command == "conformance" else [BOOKINFO])
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert f"target '{name}' is planned, not installed" in out + err


def _all_commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli.cli)
    out: list[tuple[str, click.Command]] = [("meshspec", cli.cli)]
    for name in cli.cli.list_commands(ctx):
        command = cli.cli.get_command(ctx, name)
        assert command is not None, name
        out.append((name, command))
    return out


@pytest.mark.parametrize(("name", "command"), _all_commands(), ids=lambda v: str(v)[:20])
def test_every_option_has_help(name: str, command: click.Command) -> None:
    assert command.help or command.short_help, name
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help"


def test_explain_help_says_who_must_send(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "explain", "--help")
    flat = "".join(out.split())
    assert "--from SERVICE or --from-unauthenticated (one is required)".replace(" ", "") in flat
    assert "Requiredunless--from-unauthenticated." in flat and "Requiredunless--from." in flat


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(capsys: pytest.CaptureFixture[str], shell: str) -> None:
    code, out, _ = _run(capsys, "completion", shell)
    assert code == 0 and f"_MESHSPEC_COMPLETE={shell}_complete" in out


def test_completion_completes_commands_and_options() -> None:
    script = Path(sys.executable).with_name("meshspec")

    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "_MESHSPEC_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
        done = subprocess.run(
            [str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        return [line.split(",", 1)[1] for line in done.stdout.splitlines()]

    assert set(complete("meshspec com")) == {"compile", "completion"}
    assert "--filename" in complete("meshspec validate --fi")

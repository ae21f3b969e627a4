"""Every command of the README runs as written, in order, on a fresh virtualenv.

The repository's files are copied to an empty directory (a fresh clone), the
README's install command creates `.venv` there, and each later command runs
in bash in that directory with no virtualenv active beforehand. `apply` talks
to a real kube-apiserver with Istio's CRDs (its kubeconfig in $KUBECONFIG, as
the README says); `up` runs in the background as in its own terminal, `call`
runs once `up` has written its state file, then `up` is stopped with Ctrl-C.
Blocks marked `<!-- readme-commands: skip (why) -->` are not run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from tests.fixtures.realservers import (
    KubeAPIServer,
    apply_documents,
    crd_files,
    install_crds,
    upstream_dir,
)

ROOT = Path(__file__).resolve().parent.parent
SKIP = re.compile(r"<!-- readme-commands: skip \((?P<why>[^)]+)\) -->\s*$")
ACTIVATE = ". .venv/bin/activate"


@dataclass(frozen=True)
class Command:
    line: int
    text: str


def readme_commands(readme: str) -> list[Command]:
    """The commands of every ```sh block not marked skip, continuation lines joined."""
    lines = readme.splitlines()
    out: list[Command] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        skipped = i > 0 and SKIP.match(lines[i - 1].strip()) is not None
        i += 1
        pending, start = "", 0
        while lines[i].strip() != "```":
            text = lines[i]
            if not pending:
                start = i + 1
            if text.rstrip().endswith("\\"):
                pending += text.rstrip()[:-1] + " "
            else:
                command = (pending + text).strip()
                pending = ""
                if command and not skipped:
                    out.append(Command(start, command))
            i += 1
        i += 1
    return out


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _meshspec_args(command: str) -> list[str]:
    import shlex

    words = shlex.split(command, comments=True)
    words = words[: words.index(">")] if ">" in words else words
    return words[1:]


def test_readme_commands_are_found_and_parse() -> None:
    """Fast: each `meshspec` command of the README names real commands and options."""
    from meshspec.cli import cli

    commands = readme_commands(_readme())
    texts = [c.text for c in commands]
    assert texts[0].startswith("python3 -m venv .venv && .venv/bin/pip install -e .")
    assert ACTIVATE in texts and "scripts/test" not in texts
    names = set()
    for c in commands:
        if not c.text.startswith("meshspec "):
            continue
        args = _meshspec_args(c.text)
        root = click.Context(cli, info_name="meshspec")
        command = cli.get_command(root, args[0])
        assert command is not None, c
        command.make_context(args[0], args[1:], parent=root)  # raises on a bad option
        names.add(args[0])
    assert {"validate", "explain", "compile", "import", "apply", "up", "call"} <= names


def _fresh_clone(dest: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _clean_env(kubeconfig: Path) -> dict[str, str]:
    """The environment of a new shell: no virtualenv on PATH, the test cluster's kubeconfig."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # no directory that already has a `meshspec` (this test run's virtualenv, say)
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if p and not (Path(p) / "meshspec").exists()
    )
    env["KUBECONFIG"] = str(kubeconfig)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _activated(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """What `. .venv/bin/activate` leaves in the environment, run by bash itself."""
    done = subprocess.run(
        ["bash", "-c", f"{ACTIVATE} && env -0"],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=True,
    )
    return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)


def _wait_for_state(state: Path, up: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert up.poll() is None, "meshspec up exited early"
        if state.is_file():
            try:
                json.loads(state.read_text())
                return
            except ValueError:
                pass
        time.sleep(0.2)
    pytest.fail("meshspec up wrote no state file in time")


@pytest.mark.realservers
@pytest.mark.loopback
def test_every_readme_command_runs_in_order_on_a_fresh_virtualenv(
    tmp_path: Path, kube_apiserver: KubeAPIServer
) -> None:
    # a cluster "with Istio installed", as the README asks: its CRDs and its namespace
    install_crds(kube_apiserver, crd_files(upstream_dir()))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}
    assert all(r.ok for r in apply_documents(kube_apiserver, [namespace], dry_run=False))
    repo = _fresh_clone(tmp_path / "meshspec")
    env = _clean_env(kube_apiserver.kubeconfig)
    up: subprocess.Popen[bytes] | None = None
    ran: list[str] = []
    try:
        for command in readme_commands(_readme()):
            where = f"README.md:{command.line}: {command.text}"
            if command.text == ACTIVATE:
                env = _activated(env, repo)
                continue
            if command.text.startswith("meshspec up "):
                up = subprocess.Popen(
                    ["bash", "-c", f"exec {command.text}"],
                    cwd=repo,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
                _wait_for_state(repo / ".meshspec" / "state.json", up)
                ran.append(command.text)
                continue
            done = subprocess.run(
                ["bash", "-c", command.text],
                cwd=repo,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert done.returncode == 0, f"{where}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            assert "Traceback" not in done.stderr, where
            ran.append(command.text)
            if command.text.startswith("meshspec call "):
                tally = json.loads(done.stdout)
                assert tally["requests"] == 200 and tally["by_status"] == {"200": 200}
    finally:
        if up is not None:
            os.killpg(up.pid, signal.SIGINT)
            _, err = up.communicate(timeout=60)
            assert up.returncode == 0, err.decode()[-2000:]
            assert b"stopped" in err
    assert any(t.startswith("meshspec apply ") for t in ran)
    assert any(t.startswith("meshspec call ") for t in ran)
    assert (repo / "imported.yaml").stat().st_size > 0
    assert not (repo / ".meshspec" / "state.json").exists()  # `up` cleaned up after itself

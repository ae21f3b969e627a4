"""The `meshspec` commands end to end on generated meshes, against a floor.

A user waits for the whole command: starting Python, reading and checking
every file, compiling, writing the output. So each command runs as its own
process on spec files written to disk (files of 500 services, as a team would
keep them), and is compared with its floor, measured in the same run: libyaml
(PyYAML's C loader and dumper) loading the same input to plain data plus
writing the same output objects (`bench.compile.floor`). Nothing that reads
and writes YAML can do much better than that floor.

The commands: `validate`; `compile --target T` and `import --from T` for every
target in the adapter registry (an adapter joins when it is installed: after
adding one to pyproject.toml, `pip install -e .` again); `explain`. Import
reads what `compile --target T --with-workloads` wrote (written first, not
measured): the compiled resources with the workloads they assume.

Columns: CPU seconds of the command's process (user + system; wall seconds in
brackets, the machine may be shared), the floor's CPU seconds, their ratio;
peak resident memory of the command and of the floor process, their ratio;
growth of time and memory from the previous size (10x the services should
cost about 10x). 50,000 services take several minutes, so they are opt-in:

    python -m bench.compile                      # 500 and 5,000 services
    python -m bench.compile --sizes 500,5000,50000
    python -m bench.compile --one-file           # each size in a single file
    python -m bench.compile --only validate,bad  # some commands; bad: the bad-input set
    python -m bench.compile --per-namespace 5000 --only import  # one namespace of 5,000

Services are 50 to a namespace unless `--per-namespace` says otherwise: what
a command does per namespace (Istio's policies apply namespace by namespace)
grows with the namespace's size, which `--per-namespace` shows.

Then the bad-input set (`bench.compile.bad_input`): each hostile file must get
a clear error in about the time the command takes to start.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.compile.bad_input import clear_error, write_cases
from bench.compile.mesh import SERVICES_PER_NAMESPACE, write_mesh
from meshspec.registry import available_targets

CLI = "import sys; from meshspec.cli import main; sys.exit(main())"


@dataclass(frozen=True)
class Run:
    seconds: float  #: CPU (user + system) of the process
    wall: float
    peak_mb: float  #: peak resident set size
    ok: bool
    problem: str = ""
    stderr: str = ""


def run_process(argv: list[str], stdout_path: Path) -> Run:
    """Run one process to the end; its own CPU time and peak memory come from wait4."""
    with stdout_path.open("wb") as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        said = err.read().decode("utf-8", "replace").strip().splitlines()
    return Run(
        seconds=usage.ru_utime + usage.ru_stime,
        wall=wall,
        peak_mb=usage.ru_maxrss / 1024,
        ok=code == 0,
        problem="" if code == 0 else f"exit {code}: " + " | ".join(said[-2:]),
        stderr="\n".join(said),
    )


def meshspec(args: list[str], stdout_path: Path) -> Run:
    return run_process([sys.executable, "-c", CLI, *args], stdout_path)


def floor(inputs: list[Path], output: Path | None, scratch: Path) -> Run:
    """The floor process; its timed part is what it reports, its memory what wait4 saw."""
    argv = [sys.executable, "-m", "bench.compile.floor", *map(str, inputs)]
    if output is not None:
        argv += ["--output", str(output)]
    report = scratch / "floor.json"
    run = run_process(argv, report)
    if not run.ok:
        return run
    timed = json.loads(report.read_text())
    return Run(seconds=timed["seconds"], wall=timed["wall"], peak_mb=run.peak_mb, ok=True)


@dataclass(frozen=True)
class Command:
    name: str
    args: list[str]
    inputs: list[Path]
    writes_output: bool
    #: a meshspec command, not measured, that writes `inputs[0]` first
    prepare: list[str] | None = None


def commands(spec_dir: Path, scratch: Path) -> list[Command]:
    """validate; compile to every installed target; import from every installed target
    what compiling to it wrote; explain. Targets come from the registry, so a new
    adapter joins the benchmark when it is installed."""
    targets = available_targets()
    out = [Command("validate", ["validate", str(spec_dir)], [spec_dir], False)]
    for target in targets:
        out.append(
            Command(
                f"compile --target {target}",
                ["compile", "--target", target, str(spec_dir)],
                [spec_dir],
                True,
            )
        )
    for target in targets:
        # With the workloads the output assumes, as a cluster holds them: without
        # them the importer cannot know the services' accounts (an error, by design).
        compiled = scratch / f"compile --target {target} --with-workloads.out"
        out.append(
            Command(
                f"import --from {target}",
                ["import", "--from", target, str(compiled)],
                [compiled],
                True,
                prepare=["compile", "--target", target, "--with-workloads", str(spec_dir)],
            )
        )
    out.append(
        Command(
            "explain",
            [
                "explain",
                str(spec_dir),
                "--from",
                "svc-1",
                "--to",
                "team-0/svc-0",
                "--path",
                "/api/v1/items",
            ],
            [spec_dir],
            False,
        )
    )
    return out


def prepare(cmd: Command) -> Command | None:
    """Write a command's input (not measured), named by its format: a target's reader
    tells YAML from JSON by the file's extension."""
    assert cmd.prepare is not None
    raw = cmd.inputs[0].with_suffix(".out")
    if not meshspec(cmd.prepare, raw).ok:
        return None
    with raw.open("rb") as fh:
        head = fh.read(4096).lstrip()
    named = raw.with_suffix(".json" if head.startswith((b"{", b"[")) else ".yaml")
    raw.rename(named)
    args = [named.as_posix() if a == str(cmd.inputs[0]) else a for a in cmd.args]
    return Command(cmd.name, args, [named], cmd.writes_output)


HEADER = (
    f"{'command':<24} {'services':>8} {'cpu s':>7} {'(wall)':>7} {'floor s':>8} {'x floor':>8} "
    f"{'peak MB':>8} {'floor MB':>9} {'x floor':>8} {'time growth':>12} {'mem growth':>11}"
)


def row(name: str, n: int, run: Run, base: Run, previous: Run | None) -> str:
    if not run.ok:
        return f"{name:<24} {n:>8} failed ({run.problem})"
    if not base.ok:
        said = f"floor failed ({base.problem})"
        return f"{name:<24} {n:>8} {run.seconds:>7.2f} {run.wall:>7.2f} {said}"
    growth_t = f"{run.seconds / previous.seconds:.1f}x" if previous and previous.ok else "-"
    growth_m = f"{run.peak_mb / previous.peak_mb:.1f}x" if previous and previous.ok else "-"
    return (
        f"{name:<24} {n:>8} {run.seconds:>7.2f} {run.wall:>7.2f} {base.seconds:>8.2f} "
        f"{run.seconds / base.seconds:>8.2f} {run.peak_mb:>8.0f} {base.peak_mb:>9.0f} "
        f"{run.peak_mb / base.peak_mb:>8.2f} {growth_t:>12} {growth_m:>11}"
    )


def bad_input(scratch: Path) -> None:
    """Each hostile file: exit code, a finding with file:line:column, and its time."""
    print(f"\n{'bad input (meshspec validate FILE)':<36} {'cpu s':>7} {'(wall)':>7}  clear error")
    for name, path in write_cases(scratch).items():
        run = meshspec(["validate", str(path)], scratch / "bad.out")
        baseline = name.endswith("(baseline)")
        clear = clear_error(run.stderr, expect_error=not baseline) and run.ok == baseline
        print(f"{name:<36} {run.seconds:>7.2f} {run.wall:>7.2f}  {'yes' if clear else 'NO'}")
        if not clear:
            print("    " + run.stderr.replace("\n", "\n    "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000", help="comma-separated service counts")
    parser.add_argument("--one-file", action="store_true", help="all services in one file")
    parser.add_argument("--only", default="", help="comma-separated command names to run")
    parser.add_argument("--keep", default=None, help="generate and keep the files here")
    parser.add_argument(
        "--per-namespace",
        type=int,
        default=SERVICES_PER_NAMESPACE,
        help=f"services in each namespace (default {SERVICES_PER_NAMESPACE})",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    only = {c.strip() for c in args.only.split(",") if c.strip()}
    print(f"# targets (adapter registry): {', '.join(available_targets())}")
    print(HEADER, flush=True)
    previous: dict[str, Run] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="meshspec-bench-") as tmp:
            root = Path(args.keep) / str(n) if args.keep else Path(tmp)
            spec_dir, scratch = root / "spec", root / "out"
            scratch.mkdir(parents=True, exist_ok=True)
            per_file = n if args.one_file else 500
            files = write_mesh(spec_dir, n, per_file, args.per_namespace)
            size_mb = sum(f.stat().st_size for f in files) / 2**20
            spaces = -(-n // args.per_namespace)
            print(
                f"# {n} services in {len(files)} files, {size_mb:.1f} MB, {spaces} namespaces",
                flush=True,
            )
            for cmd in commands(spec_dir, scratch):
                name = cmd.name
                if only and not any(name.startswith(o) for o in only):
                    continue
                output = scratch / f"{cmd.name}.out"
                if cmd.prepare is not None:
                    ready = prepare(cmd)
                    if ready is None:
                        print(f"{name:<24} {n:>8} no input (compiling it failed)", flush=True)
                        continue
                    cmd = ready
                run = meshspec(cmd.args, output)
                base = floor(cmd.inputs, output if cmd.writes_output and run.ok else None, scratch)
                print(row(cmd.name, n, run, base, previous.get(cmd.name)), flush=True)
                previous[cmd.name] = run
    if not only or "bad" in only:
        with tempfile.TemporaryDirectory(prefix="meshspec-bench-") as tmp:
            bad_input(Path(tmp))
    return 0

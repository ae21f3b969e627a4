"""`meshspec conformance`: run the suite against targets and report.

Exit codes: 0 every target checked something and nothing failed (cases a
target does not support are listed with the reason); 1 a case failed or
errored, or fuzzing found a disagreement; 2 usage; 5 nothing checked: a
target could not run at all, or checked no case (1 wins over 5).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from conformance.case import LoadedCase
from conformance.features import Profile
from conformance.library import CaseError, builtin_cases, load_cases
from conformance.report import RENDERERS, render_text
from conformance.results import CaseResult, Result, TargetReport
from conformance.runner import run_target
from conformance.targets import Target, default_target_names, get_target
from meshspec.cli_options import EXIT_FINDINGS, EXIT_NOTHING_CHECKED, EXIT_OK
from meshspec.errors import UnknownTarget
from meshspec.registry import PLANNED, get_adapter


def select_cases(
    cases: Sequence[LoadedCase], profiles: Sequence[str], names: Sequence[str]
) -> list[LoadedCase]:
    known = {c.name for c in cases}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.UsageError(f"no such case: {', '.join(unknown)}")
    return [
        c
        for c in cases
        if (not profiles or str(c.profile) in profiles) and (not names or c.name in names)
    ]


def write_atomically(path: str, text: str) -> None:
    """Never leave a half-written report behind."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".conformance-", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def progress(targets: Sequence[Target], total: int) -> Iterator[Any]:
    """A rich progress bar per target on a terminal, naming each case as it
    finishes; nothing at all when stderr is not a terminal (CI logs, pipes)."""
    if not sys.stderr.isatty():

        def quiet(target: str, result: CaseResult | None) -> None:
            return None

        yield quiet
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[failed]}"),
        TextColumn("{task.fields[last]}"),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, Any] = {}
    failures: dict[str, int] = {}
    with bar:

        def update(target: str, result: CaseResult | None) -> None:
            if result is None:
                failures[target] = 0
                tasks[target] = bar.add_task(target, total=total, last="starting", failed="")
                return
            if result.result in (Result.FAILED, Result.ERROR):
                failures[target] += 1
            failed = f"[red]{failures[target]} failed[/red]" if failures[target] else ""
            last = f"{result.result}: {result.name}"
            bar.update(tasks[target], advance=1, last=last, failed=failed)

        yield update


def nothing_checked(report: TargetReport) -> str:
    """Why a target checked nothing, or '' when it checked at least one case."""
    if report.unavailable:
        return f"target '{report.target}' could not run: {report.unavailable}"
    counts = report.counts()
    if not counts[Result.PASSED] + counts[Result.FAILED] + counts[Result.ERROR]:
        return f"target '{report.target}' checked no case: every case is not supported there"
    return ""


def _target(name: str, kubeconfig: str | None, context: str | None, mesh: str) -> Target:
    try:
        if name == "kubernetes":
            return get_target(name, kubeconfig=kubeconfig, context=context, mesh=mesh)
        return get_target(name)
    except UnknownTarget as exc:
        if name.lower() in PLANNED:
            try:
                get_adapter(name)
            except UnknownTarget as planned:
                raise click.UsageError(str(planned)) from None
        raise click.UsageError(str(exc)) from None


@click.command(name="conformance", short_help="Run the conformance suite against targets.")
@click.option(
    "-t",
    "--target",
    "targets",
    multiple=True,
    help="oracle, reference, an installed adapter's model (e.g. istio) or kubernetes; "
    "repeatable. Default: every target that runs locally.",
)
@click.option(
    "-p",
    "--profile",
    "profiles",
    multiple=True,
    type=click.Choice([str(p) for p in Profile]),
    help="Only cases of this profile; repeatable.",
)
@click.option("--case", "case_names", multiple=True, help="Only this case; repeatable.")
@click.option(
    "--cases",
    "case_dirs",
    multiple=True,
    type=click.Path(exists=True),
    help="Case files or directories to run instead of the built-in cases; repeatable.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json", "junit", "markdown"]),
    default="text",
    show_default=True,
    help="Report format; junit and json suit CI, markdown is the support matrix.",
)
@click.option(
    "--report-file",
    default=None,
    help="Write the report here (atomically) and a text summary to stdout.",
)
@click.option("-v", "--verbose", is_flag=True, help="Text output lists passed cases too.")
@click.option(
    "--fuzz", type=int, default=0, help="Also compare models with the oracle on N random specs."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --fuzz.")
@click.option("--fuzz-adversarial", is_flag=True, help="Fuzz with adversarial request paths too.")
@click.option(
    "--kubeconfig",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="kubernetes target: the cluster's kubeconfig.",
)
@click.option("--context", "kube_context", default=None, help="kubernetes target: context.")
@click.option(
    "--mesh", default="istio", show_default=True, help="kubernetes target: the mesh installed."
)
def conformance(
    targets: tuple[str, ...],
    profiles: tuple[str, ...],
    case_names: tuple[str, ...],
    case_dirs: tuple[str, ...],
    output: str,
    report_file: str | None,
    verbose: bool,
    fuzz: int,
    seed: int,
    fuzz_adversarial: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    mesh: str,
) -> None:
    """Run the conformance suite: every case against every target, with a report.

    Exit 0 when every target checked something and no case failed; 1 when a
    case failed or errored; 5 when a target could not run or checked no case.
    On a terminal, progress is shown per case on stderr.

    \b
    Example:
      meshspec conformance -t oracle -t istio -t reference
      meshspec conformance -o junit --report-file junit.xml
    """
    try:
        cases = load_cases(case_dirs) if case_dirs else builtin_cases()
    except CaseError as exc:
        raise click.UsageError(str(exc)) from None
    selected = select_cases(cases, profiles, case_names)
    names = list(targets) or default_target_names()
    chosen = [_target(n, kubeconfig, kube_context, mesh) for n in names]

    reports: list[TargetReport] = []
    with progress(chosen, len(selected)) as tick:
        for target in chosen:
            tick(target.name, None)

            def on_result(result: CaseResult, name: str = target.name) -> None:
                tick(name, result)

            reports.append(run_target(target, selected, on_result))

    text = render_text(reports, verbose) if output == "text" else RENDERERS[output](reports)
    if report_file:
        write_atomically(report_file, text)
        click.echo(render_text(reports, verbose=False), nl=False)
    else:
        click.echo(text, nl=False)
    failed = any(not r.ok for r in reports)

    if fuzz:
        from conformance.fuzz import fuzz_models, model_targets

        disagreements = fuzz_models(model_targets(chosen), fuzz, seed, fuzz_adversarial)
        for d in disagreements:
            click.echo(d.render(), err=True)
        click.echo(
            f"fuzz: {fuzz} examples, seed {seed}: {len(disagreements)} disagreement(s)", err=True
        )
        failed = failed or bool(disagreements)
    idle = [why for why in map(nothing_checked, reports) if why]
    for why in idle:
        click.echo(f"nothing checked: {why}", err=True)
    if failed:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_NOTHING_CHECKED if idle else EXIT_OK)

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import click

from conformance.case import LoadedCase, Probe
from conformance.features import Profile
from conformance.library import CaseError, builtin_cases, load_cases
from conformance.observation import Observation
from conformance.report import RENDERERS, render_text
from conformance.results import CaseResult, Result, TargetReport
from conformance.runner import run_target
from conformance.targets import Session, Target, default_target_names, get_target
from meshspec.cli_options import EXIT_FINDINGS, EXIT_NOTHING_CHECKED, EXIT_OK
from meshspec.errors import UnknownTarget
from meshspec.registry import PLANNED, get_adapter
from meshspec.spec import Spec


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


class Progress:
    """What the run tells the display: a target starts, a case finishes, and
    (for live targets, whose cases finish a spec at a time) what runs now."""

    def start(self, target: str) -> None:
        """A target begins."""

    def done(self, target: str, result: CaseResult) -> None:
        """A case has its result."""

    def status(self, target: str, text: str) -> None:
        """What the target does now, between results."""


class _Bars(Progress):
    def __init__(self, bar: Any, total: int) -> None:
        self.bar, self.total = bar, total
        self.tasks: dict[str, Any] = {}
        self.failures: dict[str, int] = {}

    def start(self, target: str) -> None:
        self.failures[target] = 0
        self.tasks[target] = self.bar.add_task(target, total=self.total, last="starting", failed="")

    def done(self, target: str, result: CaseResult) -> None:
        if result.result in (Result.FAILED, Result.ERROR):
            self.failures[target] += 1
        count = self.failures[target]
        failed = f"[red]{count} failed[/red]" if count else ""
        last = f"{result.result}: {result.name}"
        self.bar.update(self.tasks[target], advance=1, last=last, failed=failed)

    def status(self, target: str, text: str) -> None:
        self.bar.update(self.tasks[target], last=text)


@contextmanager
def progress(total: int) -> Iterator[Progress]:
    """A rich progress bar per target on a terminal, naming each case as it
    finishes; nothing at all when stderr is not a terminal (CI logs, pipes)."""
    if not sys.stderr.isatty():
        yield Progress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[failed]}"),
        TextColumn("{task.fields[last]}"),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        yield _Bars(bar, total)


class _WatchedSession:
    def __init__(self, session: Session, report: Callable[[], None]) -> None:
        self._session, self._report = session, report

    def probe(self, probe: Probe) -> Observation:
        observation = self._session.probe(probe)
        self._report()
        return observation


class Watched:
    """A target that tells the display when it starts a spec and sends each probe,
    so a live target's bar moves before a whole case file has its results."""

    def __init__(self, target: Target, display: Progress) -> None:
        self._target, self._display = target, display

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    @contextmanager
    def open(self, spec: Spec, spec_text: str, instances: int = 1) -> Iterator[Session]:
        name = self._target.name
        services = ", ".join(sorted(spec.services))
        self._display.status(name, f"starting a mesh for {services}")
        sent = [0]

        def report() -> None:
            sent[0] += 1
            self._display.status(name, f"{services}: {sent[0]} probes answered")

        with self._target.open(spec, spec_text, instances=instances) as session:
            yield _WatchedSession(session, report)


def nothing_checked(report: TargetReport) -> str:
    """Why a target checked nothing, or '' when it checked at least one case."""
    if report.unavailable:
        return f"target '{report.target}' could not run: {report.unavailable}"
    counts = report.counts()
    if not counts[Result.PASSED] + counts[Result.FAILED] + counts[Result.ERROR]:
        return f"target '{report.target}' checked no case: every case is not supported there"
    return ""


def _target(name: str, kubeconfig: str | None, context: str | None, mesh: str | None) -> Target:
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
    help="oracle, reference, an installed adapter's model (e.g. istio), istio-live, consul-live "
    "or kubernetes; "
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
    "--mesh", default=None, help="kubernetes target: the mesh the cluster runs, e.g. istio."
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
    mesh: str | None,
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
    with progress(len(selected)) as display:
        for target in chosen:
            display.start(target.name)

            def on_result(result: CaseResult, name: str = target.name) -> None:
                display.done(name, result)

            watched = cast(Target, Watched(target, display))
            reports.append(run_target(watched, selected, on_result))

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

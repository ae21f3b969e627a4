"""`meshspec plan --from MESH SRC --to TARGET`: a move between meshes, checked by their models."""

from __future__ import annotations

import sys

import click

from meshspec.cli_options import (
    EXIT_FINDINGS,
    configured_source,
    file_option,
    input_paths,
    settings_option,
)
from meshspec.diff.probes import DEFAULT_RANDOM


@click.command(name="plan", short_help="Plan a move from one mesh to another.")
@click.argument("paths", nargs=-1)
@file_option(help="File or directory of the source mesh's resources, or '-'; repeatable.")
@click.option(
    "--from", "source", required=True, help="Source mesh (see 'meshspec targets'), e.g. istio."
)
@click.option("--to", "target", required=True, help="Target: an installed adapter or reference.")
@click.option(
    "--live", is_flag=True, help="Read the source mesh's resources from the current context."
)
@click.option(
    "--kubeconfig",
    default=None,
    metavar="FILE",
    help="Read the source from this kubeconfig's cluster [default: $KUBECONFIG, "
    "then ~/.kube/config].",
)
@click.option("--context", default=None, help="Kubeconfig context (with --live or --kubeconfig).")
@click.option(
    "--output-dir",
    default=None,
    metavar="DIR",
    help="Write plan.md, plan.json and steps/ to DIR (all or none).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="Format of the report printed (the directory gets both).",
)
@click.option(
    "--allow-lossy",
    multiple=True,
    type=click.Choice(["mtls", "authz", "all"]),
    help="Accept losses of this security area (mtls, authz, all) as warnings; repeatable. "
    "Without it a security loss is an error.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random probes.")
@click.option(
    "--random",
    "random_count",
    type=click.IntRange(min=0),
    default=DEFAULT_RANDOM,
    show_default=True,
    help="How many seeded random requests follow the boundary requests.",
)
@settings_option
def plan(
    paths: tuple[str, ...],
    filenames: tuple[str, ...],
    source: str,
    target: str,
    live: bool,
    kubeconfig: str | None,
    context: str | None,
    output_dir: str | None,
    output: str,
    allow_lossy: tuple[str, ...],
    seed: int,
    random_count: int,
    appmesh_default_retries: str | None,
) -> None:
    """Import a mesh's resources, compile them for the target, and compare the source
    mesh's model with the target's on the same requests; propose a rollout.

    The source is files (PATH, -f) or, with --live, the cluster of the current
    kubeconfig context (--kubeconfig, --context choose another). Prints the
    report; with --output-dir also writes each step's resources and checks.

    \b
    Examples:
      meshspec plan --from istio -f istio-config/ --to reference --output-dir plan/
      meshspec plan --from istio --live --context prod --to reference
    """
    from meshspec.cli import emit_diagnostics
    from meshspec.diagnostics import Severity
    from meshspec.errors import UnknownTarget
    from meshspec.live import ClusterRef, NoClusterReader, read_live
    from meshspec.native import read_native_for
    from meshspec.plan import PlanError, build_plan, plan_targets
    from meshspec.plan.render import plan_files
    from meshspec.plan.write import write_tree

    if target not in plan_targets():
        raise click.UsageError(f"unknown target '{target}'. Targets: {', '.join(plan_targets())}")
    sources = input_paths(paths, filenames, required=False)
    if live or kubeconfig:
        if sources:
            raise click.UsageError("give the source as files or --live, not both")
        try:
            docs, problems = read_live(source, ClusterRef(kubeconfig, context))
        except (UnknownTarget, NoClusterReader) as exc:
            raise click.UsageError(str(exc)) from None
    elif sources:
        if context:
            raise click.UsageError("--context reads a cluster: add --live")
        docs, problems = read_native_for(source, sources)
    else:
        raise click.UsageError("name the source: PATH arguments, -f FILE, '-' for stdin, or --live")
    if problems:
        emit_diagnostics(problems)
        if any(d.severity == "error" for d in problems):
            sys.exit(EXIT_FINDINGS)
    lossy = frozenset(allow_lossy) | ({"mtls", "authz"} if "all" in allow_lossy else set())
    try:
        from meshspec.registry import get_adapter

        adapter = configured_source(
            get_adapter(source), {"--appmesh-default-retries": appmesh_default_retries}
        )
        result = build_plan(source, docs, target, lossy, seed, random_count, adapter)
    except UnknownTarget as exc:
        raise click.UsageError(str(exc)) from None
    except PlanError as exc:
        emit_diagnostics(exc.diagnostics)
        errors = [d for d in exc.diagnostics if d.severity is Severity.ERROR]
        hint = ""
        if errors and all(d.area in ("mtls", "authz") for d in errors):
            areas = " ".join(f"--allow-lossy {a}" for a in sorted({d.area for d in errors}))
            hint = f" (these are security losses: accept them with {areas})"
        click.echo(f"error: {exc}; nothing written{hint}", err=True)
        sys.exit(EXIT_FINDINGS)
    emit_diagnostics([*result.import_diagnostics, *result.compile_diagnostics])
    files = plan_files(result)
    if output_dir:
        write_tree(files, output_dir)
        click.echo(f"wrote {len(files)} files to {output_dir}", err=True)
    click.echo(files["plan.json" if output == "json" else "plan.md"], nl=False)

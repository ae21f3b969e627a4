"""`meshspec plan --from MESH SRC --to TARGET`: a move between meshes, checked by their models."""

from __future__ import annotations

import sys

import click

from meshspec.diff.probes import DEFAULT_RANDOM


@click.command(name="plan", short_help="Plan a move from one mesh to another.")
@click.argument("paths", nargs=-1, required=True)
@click.option("--from", "source", required=True, help="Source mesh, e.g. istio.")
@click.option("--to", "target", required=True, help="Target: an installed adapter or reference.")
@click.option(
    "--output-dir", default=None, help="Write plan.md, plan.json and steps/ here (all or none)."
)
@click.option("-o", "--output", type=click.Choice(["markdown", "json"]), default="markdown")
@click.option("--allow-lossy", multiple=True, type=click.Choice(["mtls", "authz", "all"]))
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random probes.")
@click.option(
    "--random",
    "random_count",
    type=click.IntRange(min=0),
    default=DEFAULT_RANDOM,
    show_default=True,
    help="How many seeded random requests follow the boundary requests.",
)
def plan(
    paths: tuple[str, ...],
    source: str,
    target: str,
    output_dir: str | None,
    output: str,
    allow_lossy: tuple[str, ...],
    seed: int,
    random_count: int,
) -> None:
    """Import a mesh's resources, compile them for the target, and compare the source
    mesh's model with the target's on the same requests; propose a rollout.

    Prints the report; with --output-dir also writes each step's resources and checks.

    \b
    Example:
      meshspec plan --from istio istio-config/ --to reference --output-dir plan/
    """
    from meshspec.cli import emit_diagnostics
    from meshspec.errors import UnknownTarget
    from meshspec.native import read_native
    from meshspec.plan import PlanError, build_plan, plan_targets
    from meshspec.plan.render import plan_files
    from meshspec.plan.write import write_tree

    if target not in plan_targets():
        raise click.UsageError(f"unknown target '{target}'. Targets: {', '.join(plan_targets())}")
    docs, problems = read_native(paths)
    if problems:
        emit_diagnostics(problems)
        if any(d.severity == "error" for d in problems):
            sys.exit(1)
    lossy = frozenset(allow_lossy) | ({"mtls", "authz"} if "all" in allow_lossy else set())
    try:
        result = build_plan(source, docs, target, lossy, seed, random_count)
    except UnknownTarget as exc:
        raise click.UsageError(str(exc)) from None
    except PlanError as exc:
        emit_diagnostics(exc.diagnostics)
        click.echo(f"error: {exc}; nothing written", err=True)
        sys.exit(1)
    emit_diagnostics([*result.import_diagnostics, *result.compile_diagnostics])
    files = plan_files(result)
    if output_dir:
        write_tree(files, output_dir)
        click.echo(f"wrote {len(files)} files to {output_dir}", err=True)
    click.echo(files["plan.json" if output == "json" else "plan.md"], nl=False)

"""`meshspec diff OLD NEW`: what a change does to traffic, for terminals and CI."""

from __future__ import annotations

import sys

import click

from meshspec.cli_options import EXIT_FINDINGS, EXIT_OK
from meshspec.diff.probes import DEFAULT_RANDOM

FAIL_ON = ("security", "traffic", "any")


@click.command(name="diff", short_help="Show which requests a spec change treats differently.")
@click.argument("sides", nargs=-1, metavar="OLD NEW")
@click.option(
    "--from",
    "source_mesh",
    default=None,
    help="The sides are this mesh's resources (e.g. istio), imported before comparing; "
    "needed for a live side.",
)
@click.option(
    "--live",
    is_flag=True,
    help="OLD is the cluster (as live:), like kubectl diff: give only NEW.",
)
@click.option(
    "--kubeconfig",
    default=None,
    metavar="FILE",
    help="Kubeconfig of the live sides [default: $KUBECONFIG, then ~/.kube/config].",
)
@click.option(
    "--context",
    default=None,
    help="Kubeconfig context a bare live: reads [default: the current context].",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="markdown: a table to paste into a pull-request review.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default=None,
    help="Exit 1 when a difference of this kind (or a more serious one) is found.",
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
def diff(
    sides: tuple[str, ...],
    source_mesh: str | None,
    live: bool,
    kubeconfig: str | None,
    context: str | None,
    output: str,
    fail_on: str | None,
    seed: int,
    random_count: int,
) -> None:
    """Compare two versions of a policy request by request.

    Each side is spec files, a directory, or git:REVISION:PATH; with --from,
    a mesh's native resources, or a live cluster: live: (the current kubeconfig
    context) or live:CONTEXT. With --from, a side whose documents are all
    neutral spec documents is still read as a spec. Every request whose route,
    backends, status, authorization, mTLS, timeout, retries, breakers or header
    edits differ is printed with both answers and classified as security (a
    request newly allowed, mTLS weakened), traffic or resilience. Kinds rank
    security > traffic > resilience; --fail-on traffic also fails on security.

    \b
    Examples:
      meshspec diff git:main:mesh/ mesh/ -o markdown --fail-on security
      meshspec diff --from istio --live istio-config/    # the cluster, then the files
      meshspec diff --from istio --live mesh.yaml        # the cluster, then a neutral spec
      meshspec diff --from istio live:staging live:prod  # two contexts
    """
    from meshspec.cli import emit_diagnostics
    from meshspec.diff import Category, diff_specs
    from meshspec.diff.render import RENDERERS
    from meshspec.diff.sides import SideError, read_side
    from meshspec.errors import UnknownTarget
    from meshspec.live import ClusterRef, NoClusterReader

    old, new = _sides(sides, live, source_mesh, kubeconfig or context)
    cluster = ClusterRef(kubeconfig, context)
    try:
        before = read_side(old, source_mesh, cluster)
        after = read_side(new, source_mesh, cluster)
    except (UnknownTarget, NoClusterReader) as exc:
        raise click.UsageError(str(exc)) from None
    except SideError as exc:
        emit_diagnostics(exc.diagnostics)
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FINDINGS)
    emit_diagnostics([*before.diagnostics, *after.diagnostics])
    comparison = diff_specs(before.spec, after.spec, seed, random_count)
    click.echo(RENDERERS[output](comparison, (before.label, after.label)), nl=False)
    if fail_on is None or comparison.equal:
        sys.exit(EXIT_OK)
    worst = comparison.worst()
    threshold = None if fail_on == "any" else Category(fail_on)
    failed = worst is not None and (threshold is None or worst.at_least(threshold))
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def _sides(
    given: tuple[str, ...], live: bool, source_mesh: str | None, cluster_option: str | None
) -> tuple[str, str]:
    """(OLD, NEW), with `--live` standing for OLD = `live:`; usage errors say what to write."""
    from meshspec.live import LIVE_PREFIX, is_live

    sides = (LIVE_PREFIX, *given) if live else given
    if len(sides) != 2:
        if live:
            raise click.UsageError(
                "with --live give only NEW (the cluster is OLD), or write both sides, "
                "e.g. live:staging live:prod"
            )
        raise click.UsageError("give two sides: OLD NEW (or --live NEW)")
    if any(is_live(s) for s in sides):
        if source_mesh is None:
            raise click.UsageError(
                "a live side needs --from MESH: the mesh whose resources the cluster holds "
                "(e.g. --from istio)"
            )
    elif cluster_option:
        raise click.UsageError("--kubeconfig and --context need a live side (--live or live:)")
    return sides[0], sides[1]

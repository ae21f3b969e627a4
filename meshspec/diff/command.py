"""`meshspec diff OLD NEW`: what a change does to traffic, for terminals and CI."""

from __future__ import annotations

import sys

import click

from meshspec.cli_options import EXIT_FINDINGS, EXIT_OK
from meshspec.diff.probes import DEFAULT_RANDOM

FAIL_ON = ("security", "traffic", "any")


@click.command(name="diff", short_help="Show which requests a spec change treats differently.")
@click.argument("old")
@click.argument("new")
@click.option(
    "--from",
    "source_mesh",
    default=None,
    help="Both sides are this mesh's resources (e.g. istio), imported before comparing.",
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
    old: str,
    new: str,
    source_mesh: str | None,
    output: str,
    fail_on: str | None,
    seed: int,
    random_count: int,
) -> None:
    """Compare two versions of a policy request by request.

    Each side is spec files, a directory, or git:REVISION:PATH; with --from,
    a mesh's native resources. Every request whose route, backends, status,
    authorization, mTLS, timeout, retries, breakers or header edits differ is
    printed with both answers and classified as security (a request newly
    allowed, mTLS weakened), traffic or resilience. Kinds rank security >
    traffic > resilience; --fail-on traffic also fails on security.

    \b
    Example:
      meshspec diff git:main:mesh/ mesh/ -o markdown --fail-on security
    """
    from meshspec.cli import emit_diagnostics
    from meshspec.diff import Category, diff_specs
    from meshspec.diff.render import RENDERERS
    from meshspec.diff.sides import SideError, read_side
    from meshspec.errors import UnknownTarget

    try:
        before = read_side(old, source_mesh)
        after = read_side(new, source_mesh)
    except UnknownTarget as exc:
        raise click.UsageError(str(exc)) from None
    except SideError as exc:
        emit_diagnostics(exc.diagnostics)
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FINDINGS)
    emit_diagnostics([*before.diagnostics, *after.diagnostics])
    comparison = diff_specs(before.spec, after.spec, seed, random_count)
    click.echo(RENDERERS[output](comparison, (old, new)), nl=False)
    if fail_on is None or comparison.equal:
        sys.exit(EXIT_OK)
    worst = comparison.worst()
    threshold = None if fail_on == "any" else Category(fail_on)
    failed = worst is not None and (threshold is None or worst.at_least(threshold))
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)

"""`meshspec apply`: compile a spec and server-side apply it to a cluster.

Objects are applied with field manager `meshspec` (conflicts forced: meshspec owns
the fields it writes) and labelled `app.kubernetes.io/managed-by: meshspec` plus
`meshspec.io/spec-id: <id>`, so `--prune` can find and delete the objects an earlier
apply of the same spec created that the spec no longer produces.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from adapters._kube import KubeClient, KubeError
from meshspec.adapter import Adapter
from meshspec.cli_options import file_option, input_paths
from meshspec.diagnostics import Severity, has_errors, render_text
from meshspec.registry import get_adapter

MANAGED_BY = "app.kubernetes.io/managed-by"
SPEC_ID = "meshspec.io/spec-id"


@click.command("apply", short_help="Compile a spec and apply it to a Kubernetes cluster.")
@click.argument("files", nargs=-1)
@file_option()
@click.option("-t", "--target", required=True, help="Target mesh, e.g. istio.")
@click.option(
    "--kubeconfig",
    default=None,
    help="Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).",
)
@click.option("--context", default=None, help="Kubeconfig context.")
@click.option(
    "--dry-run",
    "dry_run",
    type=click.Choice(["server", "none"]),
    default="none",
    show_default=True,
    help="'server': the API server validates everything and stores nothing.",
)
@click.option(
    "--prune", is_flag=True, help="Delete objects an earlier apply made and the spec no longer has."
)
@click.option(
    "--spec-id", default=None, help="Identity of this spec in the cluster (default: the Mesh name)."
)
@click.option(
    "--allow-lossy",
    multiple=True,
    type=click.Choice(["mtls", "authz", "all"]),
    help="Accept losses of this security area (mtls, authz, all) as warnings; repeatable. "
    "Without it a security loss is an error.",
)
def apply(
    files: tuple[str, ...],
    filenames: tuple[str, ...],
    target: str,
    kubeconfig: str | None,
    context: str | None,
    dry_run: str,
    prune: bool,
    spec_id: str | None,
    allow_lossy: tuple[str, ...],
) -> None:
    """Compile FILES for a target and apply the result to a Kubernetes cluster.

    It needs a reachable cluster (API server) whose kubeconfig is found as
    kubectl finds it; --dry-run=server checks everything there and stores nothing.

    \b
    Example:
      meshspec apply --target istio examples/bookinfo/mesh.yaml --dry-run=server
    """
    from meshspec import api
    from meshspec.errors import UnknownTarget
    from meshspec.loader import load_paths

    try:
        own_files = get_adapter(target).files
    except UnknownTarget as exc:
        raise click.UsageError(str(exc)) from None
    if own_files is not None and own_files.formats:
        raise click.UsageError(
            f"target '{target}' writes its own files ({', '.join(own_files.formats)}), not "
            f"Kubernetes objects: use 'meshspec compile -t {target} --format ...' and the "
            "mesh's own tool" + (" (or --target consul-k8s)" if target == "consul" else "")
        )
    loaded = load_paths(input_paths(files, filenames))
    if loaded.diagnostics:
        click.echo(render_text(loaded.diagnostics), err=True)
    if loaded.spec is None or has_errors(loaded.diagnostics):
        click.echo("nothing applied: the spec has errors", err=True)
        sys.exit(1)
    try:
        compiled = api.compile(loaded.spec, target, allow_lossy)
    except UnknownTarget as exc:
        raise click.UsageError(str(exc)) from None
    if compiled.diagnostics:
        click.echo(render_text(compiled.diagnostics), err=True)
    if has_errors(compiled.diagnostics):
        click.echo(_nothing_applied(compiled.diagnostics), err=True)
        sys.exit(1)
    identity = spec_id or _default_id(loaded.spec)
    objects = [label(r, identity) for r in compiled.resources]
    try:
        run(objects, target, identity, kubeconfig, context, dry_run == "server", prune)
    except KubeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _nothing_applied(diagnostics: Sequence[Any]) -> str:
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if all(d.area in ("mtls", "authz") for d in errors):
        areas = ",".join(sorted({d.area for d in errors}))
        return (
            "nothing applied: the errors above are security losses; "
            f"fix the spec or pass --allow-lossy {areas}"
        )
    return "nothing applied: fix the errors above"


def _default_id(spec: Any) -> str:
    name = spec.mesh_metadata.name if spec.mesh_metadata is not None else "default"
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:63] or "default"


def label(resource: Mapping[str, Any], identity: str) -> dict[str, Any]:
    out = dict(resource)
    meta = dict(out.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: "meshspec", SPEC_ID: identity}
    out["metadata"] = meta
    return out


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace") or "default"), str(meta.get("name")))


def prune_kinds(objects: Sequence[Mapping[str, Any]], adapter: Adapter) -> list[tuple[str, str]]:
    """What `--prune` lists: the kinds written now and every kind the target writes, since
    an earlier apply may have made objects of a kind the spec no longer produces."""
    kinds = {(str(o["apiVersion"]), str(o["kind"])) for o in objects}
    return sorted(kinds | set(adapter.kinds))


def run(
    objects: Sequence[Mapping[str, Any]],
    target: str,
    identity: str,
    kubeconfig: str | None,
    context: str | None,
    dry_run: bool,
    prune: bool,
) -> None:
    client = KubeClient(kubeconfig, context)
    suffix = " (server dry run)" if dry_run else ""
    try:
        for obj in objects:
            client.apply(obj, dry_run)
            kind, ns, name = _key(obj)
            click.echo(f"applied {kind} {ns}/{name}{suffix}")
        if prune:
            emitted = {_key(o) for o in objects}
            selector = f"{MANAGED_BY}=meshspec,{SPEC_ID}={identity}"
            for api_version, kind in prune_kinds(objects, get_adapter(target)):
                for found in client.list(api_version, kind, selector):
                    if _key(found) not in emitted:
                        client.delete(found, dry_run)
                        _, ns, name = _key(found)
                        click.echo(f"pruned {kind} {ns}/{name}{suffix}")
    finally:
        client.close()

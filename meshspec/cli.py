"""The `meshspec` command. Exit codes: 0 success, 1 findings or failed checks, 2 usage.

Commands from the other packages (the reference implementation, the
conformance suite, cluster apply) are found through the `meshspec.commands`
entry points and loaded only when used, so the core imports none of them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from meshspec.codecs import dump_json, dump_yaml
from meshspec.diagnostics import Diagnostic, has_errors, render_json, render_text
from meshspec.errors import MeshSpecError, UnknownTarget
from meshspec.loader import load_paths
from meshspec.registry import available_targets, get_adapter

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class LazyGroup(click.Group):
    """Built-in commands plus those registered by other packages."""

    def _external(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group="meshspec.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._external()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        ep = self._external().get(cmd_name)
        if ep is None:
            return None
        try:
            loaded = ep.load()
        except (ImportError, AttributeError) as exc:
            return _unavailable(cmd_name, str(exc))
        return loaded if isinstance(loaded, click.Command) else None


def _unavailable(name: str, why: str) -> click.Command:
    def run() -> None:
        raise click.ClickException(f"command '{name}' is not available: {why}")

    return click.Command(name, callback=run, help=f"(not available: {why})")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="meshspec")
def cli() -> None:
    """One neutral service-mesh spec: validate it, explain it, compile it to a mesh."""


def emit_diagnostics(diags: Sequence[Diagnostic], output: str = "text") -> None:
    if output == "json":
        click.echo(render_json(diags))
    elif diags:
        click.echo(render_text(diags), err=True)


@cli.command(short_help="Check spec files and print every finding.")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    help="json: a list of {code, severity, message, file, line, column, path}.",
)
def validate(paths: tuple[str, ...], output: str) -> None:
    """Check spec files, directories (every .yaml, .yml, .json below) or '-' (stdin).

    Exit 0 when there is no error (warnings are printed), 1 when there is.

    \b
    Example:
      meshspec validate examples/bookinfo/mesh.yaml
    """
    result = load_paths(paths)
    emit_diagnostics(result.diagnostics, output)
    if output == "text":
        errors = sum(1 for d in result.diagnostics if d.severity == "error")
        warnings = sum(1 for d in result.diagnostics if d.severity == "warning")
        services = len(result.spec.services) if result.spec else 0
        click.echo(f"{services} services, {errors} errors, {warnings} warnings", err=True)
    sys.exit(EXIT_FINDINGS if has_errors(result.diagnostics) else EXIT_OK)


@cli.command(short_help="Print the JSON Schema of spec documents.")
def schema() -> None:
    """Print the JSON Schema of spec documents, for editors and CI checks."""
    from meshspec.schema import document_schema

    click.echo(json.dumps(document_schema(), indent=2))


@cli.command(short_help="Show what the spec decides for one request.")
@click.argument("paths", nargs=-1, required=True)
@click.option("--to", "to", required=True, help="Destination service: name, ns/name or host.")
@click.option("--port", type=int, default=None, help="Destination port (default: first HTTP).")
@click.option("--from", "source", default=None, help="Sending service (inside the mesh).")
@click.option("--from-unauthenticated", is_flag=True, help="A client outside the mesh.")
@click.option("-X", "--method", default="GET", show_default=True, help="HTTP method.")
@click.option("--path", required=True, help="Request target: path with optional ?query.")
@click.option("-H", "--header", "headers", multiple=True, help="K=V or 'K: V'; repeatable.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def explain(
    paths: tuple[str, ...],
    to: str,
    port: int | None,
    source: str | None,
    from_unauthenticated: bool,
    method: str,
    path: str,
    headers: tuple[str, ...],
    output: str,
) -> None:
    """What the spec decides for one request: route, backends and weights,
    authorization and the rule that decided, mTLS mode, timeout and retries.

    \b
    Example:
      meshspec explain examples/bookinfo/mesh.yaml --from productpage \\
          --to reviews --path /reviews/0 -H end-user=jason
    """
    from meshspec.semantics import Request, UnknownService, decide

    if (source is None) == (not from_unauthenticated):
        raise click.UsageError(
            "say who sends the request: --from SERVICE or --from-unauthenticated"
        )
    header_map: dict[str, str] = {}
    for h in headers:
        sep = ":" if ":" in h and ("=" not in h or h.index(":") < h.index("=")) else "="
        k, found, v = h.partition(sep)
        if not found or not k.strip():
            raise click.UsageError(f"header {h!r} is not K=V or 'K: V'")
        key = k.strip().lower()
        header_map[key] = f"{header_map[key]},{v.strip()}" if key in header_map else v.strip()
    result = load_paths(paths)
    if not result.ok or result.spec is None:
        emit_diagnostics(result.diagnostics)
        click.echo("explain needs a spec without errors", err=True)
        sys.exit(EXIT_FINDINGS)
    request = Request(
        destination=to,
        target=path,
        method=method.upper(),
        headers=header_map,
        port=port,
        source=source,
    )
    try:
        decision = decide(result.spec, request)
    except UnknownService as exc:
        raise click.UsageError(f"{exc}. Services: {', '.join(result.spec.services)}") from None
    if output == "json":
        click.echo(json.dumps(decision.to_json(), indent=2))
        return
    from meshspec.explain_text import render_decision

    click.echo(render_decision(decision))


def _write_outputs(files: dict[str, str], output_dir: str) -> None:
    """All files or none: write beside the destination, then move into place,
    putting back what was there if any move fails."""
    dest = Path(output_dir)
    blocked = [name for name in files if (dest / name).is_dir()]
    if blocked:
        raise click.ClickException(
            f"nothing written: {dest / blocked[0]} is a directory; remove it or pick another "
            "--output-dir"
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".meshspec-", dir=dest))
    except OSError as exc:
        raise click.ClickException(f"nothing written: {output_dir}: {exc.strerror}") from None
    moved: list[tuple[Path, Path | None]] = []
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        for name in files:
            target = dest / name
            backup = None
            if target.exists():
                backup = tmp / (name + ".previous")
                os.replace(target, backup)
            moved.append((target, backup))
            os.replace(tmp / name, target)
    except OSError as exc:
        for target, backup in reversed(moved):
            if backup is not None:
                os.replace(backup, target)
            else:
                target.unlink(missing_ok=True)
        raise click.ClickException(f"nothing written: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _file_name(resource: dict[str, Any]) -> str:
    meta = resource.get("metadata") or {}
    parts = [
        str(resource.get("kind", "object")),
        str(meta.get("namespace") or ""),
        str(meta.get("name", "")),
    ]
    return "-".join(p for p in parts if p).lower() + ".yaml"


def _target_or_usage(name: str) -> Any:
    try:
        return get_adapter(name)
    except UnknownTarget as exc:
        raise click.UsageError(str(exc)) from None


@cli.command(name="compile", short_help="Compile a spec into a mesh's resources.")
@click.argument("paths", nargs=-1, required=True)
@click.option("-t", "--target", required=True, help="Target mesh, e.g. istio.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
@click.option("--output-dir", default=None, help="Write one file per resource here (all or none).")
@click.option(
    "--allow-lossy",
    multiple=True,
    type=click.Choice(["mtls", "authz", "all"]),
    help="Accept losses of these security areas as warnings.",
)
def compile_command(
    paths: tuple[str, ...],
    target: str,
    output: str,
    output_dir: str | None,
    allow_lossy: tuple[str, ...],
) -> None:
    """Compile a spec into the target mesh's resources (see 'meshspec targets').

    Every field the target cannot express is reported; a security loss is an
    error unless --allow-lossy names its area. Nothing is written on error.

    \b
    Example:
      meshspec compile --target istio examples/bookinfo/mesh.yaml
    """
    from meshspec.api import compile as compile_spec

    _target_or_usage(target)
    result = load_paths(paths)
    if not result.ok or result.spec is None:
        emit_diagnostics(result.diagnostics)
        sys.exit(EXIT_FINDINGS)
    compiled = compile_spec(result.spec, target, allow_lossy)
    diags = [*result.diagnostics, *compiled.diagnostics]
    emit_diagnostics(diags)
    if has_errors(diags):
        click.echo("nothing written: fix the errors above or pass --allow-lossy", err=True)
        sys.exit(EXIT_FINDINGS)
    if output_dir:
        if output == "json":
            files = {_file_name(r)[:-5] + ".json": dump_json([r]) for r in compiled.resources}
        else:
            files = {_file_name(r): dump_yaml([r]) for r in compiled.resources}
        _write_outputs(files, output_dir)
        click.echo(f"wrote {len(files)} files to {output_dir}", err=True)
    else:
        text = dump_json(compiled.resources) if output == "json" else dump_yaml(compiled.resources)
        click.echo(text, nl=False)


@cli.command(name="import", short_help="Import a mesh's resources into the neutral spec.")
@click.argument("paths", nargs=-1)
@click.option("-f", "--from", "source", required=True, help="Source mesh, e.g. istio.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
@click.option("--output-dir", default=None, help="Write the neutral spec here (mesh.yaml).")
@click.option("--kubeconfig", default=None, help="Read from a live cluster.")
@click.option("--context", default=None, help="Kubeconfig context (with --kubeconfig or --live).")
@click.option("--live", is_flag=True, help="Read from the current kubeconfig context.")
@click.option("--allow-lossy", multiple=True, type=click.Choice(["mtls", "authz", "all"]))
def import_command(
    paths: tuple[str, ...],
    source: str,
    output: str,
    output_dir: str | None,
    kubeconfig: str | None,
    context: str | None,
    live: bool,
    allow_lossy: tuple[str, ...],
) -> None:
    """Import a mesh's resources (files, directories, '-', or a cluster) into the neutral spec."""
    from meshspec.api import apply_lossy_policy
    from meshspec.native import read_native

    adapter = _target_or_usage(source)
    if live or kubeconfig:
        reader = getattr(adapter, "read_cluster", None)
        if reader is None:
            raise click.UsageError(f"target '{source}' cannot read from a cluster")
        docs, problems = reader(kubeconfig=kubeconfig, context=context)
    elif paths:
        docs, problems = read_native(paths)
    else:
        raise click.UsageError("name files or directories to import, '-' for stdin, or --live")
    imported = adapter.import_resources(docs)
    diags = apply_lossy_policy([*problems, *imported.diagnostics], allow_lossy)
    emit_diagnostics(diags)
    if has_errors(diags) or imported.spec is None:
        click.echo("nothing written: fix the errors above or pass --allow-lossy", err=True)
        sys.exit(EXIT_FINDINGS)
    text = dump_json(imported.documents) if output == "json" else dump_yaml(imported.documents)
    if output_dir:
        _write_outputs({"mesh." + ("json" if output == "json" else "yaml"): text}, output_dir)
        click.echo(f"wrote the neutral spec to {output_dir}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
def targets() -> None:
    """List the installed target adapters."""
    for name in available_targets():
        try:
            click.echo(f"{name}\t{get_adapter(name).description}")
        except MeshSpecError as exc:
            click.echo(f"{name}\t(unavailable: {exc})")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: never lets a traceback reach the user."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="meshspec",
            standalone_mode=False,
        )
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return EXIT_USAGE
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return EXIT_FINDINGS
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_FINDINGS
    except MeshSpecError as exc:
        diags = getattr(exc, "diagnostics", [])
        if diags:
            emit_diagnostics(diags)
        click.echo(f"error: {exc}", err=True)
        return EXIT_FINDINGS
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo(
            "this is a bug in meshspec; please report it with the input that caused it", err=True
        )
        return 70
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

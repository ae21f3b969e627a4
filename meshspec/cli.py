"""The `meshspec` command. Exit codes (docs/cli.md): 0 success, 1 findings or failed
checks, 2 usage, 5 nothing checked, 70 internal error, 130 interrupted.

Commands from the other packages (the reference implementation, the
conformance suite, cluster apply) are found through the `meshspec.commands`
entry points and loaded only when used, so the core imports none of them.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from meshspec.adapter import Adapter, CompileOptions, CompileResult
from meshspec.cli_options import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOTHING_CHECKED,
    EXIT_OK,
    EXIT_USAGE,
    HEADER_HELP,
    configured_source,
    file_option,
    input_paths,
    parse_headers,
    settings_option,
)
from meshspec.codecs import dump_json, dump_yaml
from meshspec.diagnostics import Diagnostic, Severity, has_errors, render_json, text_chunks
from meshspec.diff.command import diff
from meshspec.errors import MeshSpecError, UnknownTarget
from meshspec.gcpause import cyclic_gc_paused
from meshspec.live import ClusterRef, NoClusterReader, read_live
from meshspec.loader import load_paths
from meshspec.plan.command import plan
from meshspec.registry import PLANNED, available_targets, get_adapter, planned_targets
from meshspec.spec import Spec
from meshspec.stdout import echo_result

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_NOTHING_CHECKED",
    "EXIT_OK",
    "EXIT_USAGE",
    "cli",
    "emit_diagnostics",
    "main",
]

#: `--debug` (or MESHSPEC_DEBUG=1): tracebacks of internal errors and each file read.
_debug = {"on": False}
#: the last input file a command read, named when an internal error happens
_last_read: dict[str, str] = {}


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


class _ReadTracker(logging.Handler):
    """Remembers the last file the loader reported reading."""

    def emit(self, record: logging.LogRecord) -> None:
        file = getattr(record, "file", None)
        if file:
            _last_read["file"] = str(file)


def _setup_logging(debug: bool) -> None:
    """The loader's file log feeds the tracker always and stderr with --debug only;
    it never reaches handlers other packages install on the root logger."""
    log = logging.getLogger("meshspec.loader")
    for handler in list(log.handlers):
        if getattr(handler, "_meshspec_cli", False):
            log.removeHandler(handler)
    handlers: list[logging.Handler] = [_ReadTracker()]
    if debug:
        shown = logging.StreamHandler(sys.stderr)
        shown.setFormatter(logging.Formatter("debug: %(message)s"))
        handlers.append(shown)
    for handler in handlers:
        handler._meshspec_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="meshspec")
@click.option(
    "--debug",
    is_flag=True,
    envvar="MESHSPEC_DEBUG",
    help="Log each file read and show the traceback of an internal error (exit 70).",
)
def cli(debug: bool) -> None:
    """One neutral service-mesh spec: validate it, explain it, compile it to a mesh.

    Exit codes: 0 success, 1 findings or failed checks, 2 usage error,
    5 nothing checked, 70 internal error, 130 interrupted (docs/cli.md).
    Shell completion: eval "$(meshspec completion bash)" (or zsh, fish).
    """
    _debug["on"] = debug
    _setup_logging(debug)


def emit_diagnostics(diags: Sequence[Diagnostic], output: str = "text") -> None:
    if output == "json":
        click.echo(render_json(diags))
    elif diags:
        for chunk in text_chunks(diags):
            click.echo(chunk, err=True, nl=False)


@cli.command(short_help="Check spec files and print every finding.")
@click.argument("paths", nargs=-1)
@file_option()
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json", "sarif", "junit"]),
    default="text",
    show_default=True,
    help="json: a list of {code, severity, message, file, line, column, path, hint}; "
    "sarif: SARIF 2.1.0 for code scanning; junit: JUnit XML for CI test views.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
def validate(paths: tuple[str, ...], filenames: tuple[str, ...], output: str, strict: bool) -> None:
    """Check spec files, directories (every .yaml, .yml, .json below) or '-' (stdin).

    Exit 0 when there is no error (warnings are printed), 1 when there is
    one (or, with --strict, a warning).

    \b
    Example:
      meshspec validate examples/bookinfo/mesh.yaml
      meshspec validate --strict -o sarif -f specs/ > meshspec.sarif
    """
    from meshspec.loader import expand_paths

    inputs = input_paths(paths, filenames)
    result = load_paths(inputs)
    diags = result.diagnostics
    if output == "sarif":
        from meshspec.diagnostic_reports import render_sarif

        click.echo(render_sarif(diags, strict))
    elif output == "junit":
        from meshspec.diagnostic_reports import render_junit

        files = ["<stdin>" if f == "-" else f for f in expand_paths(inputs)[0]]
        click.echo(render_junit(diags, files, strict), nl=False)
    else:
        emit_diagnostics(diags, output)
    if output in ("sarif", "junit"):
        emit_diagnostics(diags)  # readable in the CI log too; the report is on stdout
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diags if d.severity is Severity.WARNING)
    if output != "json":
        services = len(result.spec.services) if result.spec else 0
        click.echo(f"{services} services, {errors} errors, {warnings} warnings", err=True)
        if strict and warnings and not errors:
            click.echo("failed: --strict treats warnings as errors", err=True)
    sys.exit(EXIT_FINDINGS if errors or (strict and warnings) else EXIT_OK)


@cli.command(short_help="Print the JSON Schema of spec documents.")
def schema() -> None:
    """Print the JSON Schema of spec documents, for editors and CI checks."""
    from meshspec.schema import document_schema

    click.echo(json.dumps(document_schema(), indent=2))


@cli.command(short_help="Show what the spec decides for one request.")
@click.argument("paths", nargs=-1)
@file_option()
@click.option("--to", "to", required=True, help="Destination service: name, ns/name or host.")
@click.option("--port", type=int, default=None, help="Destination port (default: first HTTP).")
@click.option(
    "--from",
    "source",
    default=None,
    help="Sending service (inside the mesh). Required unless --from-unauthenticated.",
)
@click.option(
    "--from-unauthenticated",
    is_flag=True,
    help="The sender is a client outside the mesh (no sidecar, no identity). "
    "Required unless --from.",
)
@click.option("-X", "--method", default="GET", show_default=True, help="HTTP method.")
@click.option("--path", required=True, help="Request target: path with optional ?query.")
@click.option("-H", "--header", "headers", multiple=True, help=HEADER_HELP)
@click.option(
    "--expect",
    "expects",
    multiple=True,
    metavar="FIELD=VALUE,...",
    help="Exit 1 unless the decision has these values, e.g. status=403,route=admin. "
    "Fields: status, outcome, route, version, backend, authz, rule, mtls, transport, "
    "timeout, retries ('none' for no value). Repeatable.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the whole decision as one object.",
)
def explain(
    paths: tuple[str, ...],
    filenames: tuple[str, ...],
    to: str,
    port: int | None,
    source: str | None,
    from_unauthenticated: bool,
    method: str,
    path: str,
    headers: tuple[str, ...],
    expects: tuple[str, ...],
    output: str,
) -> None:
    """What the spec decides for one request: route, backends and weights,
    authorization and the rule that decided, mTLS mode, timeout and retries.

    Say who sends the request: --from SERVICE or --from-unauthenticated (one is
    required). With --expect, exit 1 when the decision differs (for CI; a file
    of such checks runs with 'meshspec test').

    \b
    Example:
      meshspec explain examples/bookinfo/mesh.yaml --from productpage \\
          --to reviews --path /reviews/0 -H end-user=jason
      meshspec explain examples/bookinfo/mesh.yaml --from details \\
          --to ratings --path /ratings/0 --expect status=403,authz=deny
    """
    from meshspec.expectations import ExpectationError, check, parse_expect_option
    from meshspec.semantics import Request, UnknownService, decide

    inputs = input_paths(paths, filenames)
    if (source is None) == (not from_unauthenticated):
        raise click.UsageError(
            "say who sends the request: --from SERVICE or --from-unauthenticated"
        )
    try:
        expectations = parse_expect_option(expects)
    except ExpectationError as exc:
        raise click.UsageError(f"--expect: {exc}") from None
    header_map: dict[str, str] = {}
    for name, value in parse_headers(headers):
        key = name.lower()
        header_map[key] = f"{header_map[key]},{value}" if key in header_map else value
    result = load_paths(inputs)
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
    else:
        from meshspec.explain_text import render_decision

        click.echo(render_decision(decision))
    mismatches = check(decision, expectations)
    for m in mismatches:
        click.echo(f"expectation failed: {m}", err=True)
    if expectations and not mismatches:
        click.echo(f"{len(expectations)} expectations met", err=True)
    sys.exit(EXIT_FINDINGS if mismatches else EXIT_OK)


@cli.command(name="test", short_help="Check a file of requests and expected answers.")
@click.argument("test_files", nargs=-1)
@file_option(help="Test file (format above); repeatable.")
@click.option(
    "--spec",
    "spec_paths",
    multiple=True,
    metavar="PATH",
    help="Spec to test (default: the test file's 'spec:' entry, relative to it); repeatable.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "junit"]),
    default="text",
    show_default=True,
    help="junit: JUnit XML on stdout for CI test views.",
)
@click.option("-v", "--verbose", is_flag=True, help="List passed tests too.")
def test_command(
    test_files: tuple[str, ...],
    filenames: tuple[str, ...],
    spec_paths: tuple[str, ...],
    output: str,
    verbose: bool,
) -> None:
    """Check that the spec answers each request of TEST_FILES as expected
    (policy as code, like 'opa test' or 'conftest'). A test file:

    \b
      spec: mesh.yaml              # or a list; relative to this file
      tests:
        - name: jason sees v2
          request: {from: productpage, to: reviews, path: /reviews/0,
                    headers: {end-user: jason}}
          expect: {route: jason, version: v2, authz: allow}
        - name: outsiders are refused
          request: {unauthenticated: true, to: reviews, path: /}
          expect: {outcome: mtls_refused}

    Request fields: from or unauthenticated, to, path, method, headers, port.
    Expect fields: those of 'explain --expect'. Exit 0 when every test
    passed, 1 when one failed or a file has errors, 5 when there was no test.
    """
    from meshspec.policy_tests import TestResult, read_test_file, render_junit, run_tests

    files = input_paths(test_files, filenames)
    if "-" in files:
        raise click.UsageError("test files are read from files, not from stdin")
    problems: list[Diagnostic] = []
    results: list[TestResult] = []
    for file in files:
        parsed = read_test_file(file)
        problems.extend(parsed.diagnostics)
        specs = list(spec_paths) or parsed.spec_paths
        if not specs:
            raise click.UsageError(f"{file}: name the spec with 'spec:' in the file or --spec")
        loaded = load_paths(specs)
        problems.extend(loaded.diagnostics)
        if loaded.ok and loaded.spec is not None:
            results.extend(run_tests(loaded.spec, parsed.tests))
    failed = [r for r in results if not r.passed]
    if output == "text":
        for r in results:
            if not r.passed:
                click.echo(f"FAIL {r.test.location}: {r.test.name}: {r.why()}")
            elif verbose:
                click.echo(f"PASS {r.test.location}: {r.test.name}")
    else:
        click.echo(render_junit(results), nl=False)
    emit_diagnostics(problems)
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed", err=output != "text")
    if failed or has_errors(problems):
        sys.exit(EXIT_FINDINGS)
    if not results:
        click.echo("nothing checked: no test ran", err=True)
        sys.exit(EXIT_NOTHING_CHECKED)
    sys.exit(EXIT_OK)


def _write_outputs(files: dict[str, str], output_dir: str) -> None:
    from meshspec.output_dir import OutputDirError, write_owned

    try:
        write_owned(files, output_dir)
    except OutputDirError as exc:
        raise click.ClickException(f"nothing written: {exc}") from None


def _nothing_written(diags: Sequence[Diagnostic], verb: str = "written") -> str:
    """Say --allow-lossy only when it would turn every error into a warning."""
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors and all(d.area in ("mtls", "authz") for d in errors):
        areas = " ".join(f"--allow-lossy {a}" for a in sorted({d.area for d in errors}))
        return (
            f"nothing {verb}: the errors above are security losses; fix the spec or accept "
            f"them with {areas}"
        )
    return f"nothing {verb}: fix the errors above"


def _file_stream(rendered: Sequence[tuple[str, str]]) -> str:
    """A target's own files on stdout: JSON documents as one YAML stream (`---` between
    them), which `meshspec import` reads back; other formats one after another, each
    under a comment naming the file it would be."""
    if all(name.endswith(".json") for name, _ in rendered):
        return "---\n".join(text for _, text in rendered)
    return "".join(f"# {name}\n{text}" for name, text in rendered)


def _json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2) + "\n"


def _as_list(resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A `kind: List`, the one-document form `kubectl apply -f -` reads."""
    return {"apiVersion": "v1", "kind": "List", "items": list(resources)}


def _file_name(resource: dict[str, Any]) -> str:
    meta = resource.get("metadata") or {}
    parts = [
        str(resource.get("kind", "object")),
        str(meta.get("namespace") or ""),
        str(meta.get("name", "")),
    ]
    return "-".join(p for p in parts if p).lower() + ".yaml"


ALLOW_LOSSY_HELP = (
    "Accept losses of this security area (mtls, authz, all) as warnings; repeatable. "
    "Without it a security loss is an error."
)


def _target_or_usage(name: str) -> Adapter:
    try:
        return get_adapter(name)
    except UnknownTarget as exc:
        raise click.UsageError(str(exc)) from None


@cli.command(name="compile", short_help="Compile a spec into a mesh's resources.")
@click.argument("paths", nargs=-1)
@file_option()
@click.option("-t", "--target", required=True, help="Target mesh (see 'meshspec targets').")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json", "cloudformation"]),
    default="yaml",
    show_default=True,
    help="yaml: a multi-document stream; json: one 'kind: List' object. Both are "
    "read by 'kubectl apply -f'. cloudformation: one CloudFormation template (targets "
    "that have one, e.g. appmesh).",
)
@click.option(
    "--output-dir",
    default=None,
    metavar="DIR",
    help="Write one file per resource into DIR instead of stdout: DIR must be empty, new, "
    "or written by meshspec before (its earlier files are replaced). All or nothing.",
)
@click.option(
    "--allow-lossy",
    multiple=True,
    type=click.Choice(["mtls", "authz", "all"]),
    help=ALLOW_LOSSY_HELP,
)
@click.option(
    "--with-workloads",
    is_flag=True,
    help="Also write the service accounts, services and deployments the output assumes.",
)
@click.option(
    "--format",
    "file_format",
    default=None,
    metavar="FORMAT",
    help="The target's own file format, for targets that have one (consul: json, hcl); "
    "one file per resource with --output-dir. Replaces --output.",
)
def compile_command(
    paths: tuple[str, ...],
    filenames: tuple[str, ...],
    target: str,
    output: str,
    output_dir: str | None,
    allow_lossy: tuple[str, ...],
    with_workloads: bool,
    file_format: str | None,
) -> None:
    """Compile a spec into the target mesh's resources (see 'meshspec targets').

    Every field the target cannot express is reported; a security loss is an
    error unless --allow-lossy names its area. Nothing is written on error.

    \b
    Example:
      meshspec compile --target istio examples/bookinfo/mesh.yaml
      meshspec compile -t istio -f examples/bookinfo/mesh.yaml -o json | kubectl apply -f -
    """
    from meshspec.api import compile as compile_spec

    inputs = input_paths(paths, filenames)
    adapter = _target_or_usage(target)
    formats = adapter.files.formats if adapter.files is not None else ()
    own_files = adapter.files if formats else None
    if file_format is not None and file_format not in formats:
        known = ", ".join(formats) or "none (use --output)"
        raise click.UsageError(f"--format {file_format}: the formats of '{target}' are {known}")
    result = load_paths(inputs)
    if not result.ok or result.spec is None:
        emit_diagnostics(result.diagnostics)
        click.echo("nothing written: the spec has errors", err=True)
        sys.exit(EXIT_FINDINGS)
    if output == "cloudformation":
        compiled = _other_form(result.spec, target, output, allow_lossy)
    else:
        compiled = compile_spec(result.spec, target, allow_lossy, workloads=with_workloads)
    diags = [*result.diagnostics, *compiled.diagnostics]
    emit_diagnostics(diags)
    if has_errors(diags):
        click.echo(_nothing_written(diags), err=True)
        sys.exit(EXIT_FINDINGS)
    if own_files is not None:
        # a target with its own files (one resource a file, e.g. Consul's config entries)
        rendered = own_files.render(compiled.resources, file_format or formats[0])
        if output_dir:
            _write_outputs(dict(rendered), output_dir)
            click.echo(f"wrote {len(rendered)} files to {output_dir}", err=True)
        else:
            echo_result(_file_stream(rendered))
        return
    if output == "cloudformation":
        text = dump_yaml(compiled.resources)
        if output_dir:
            _write_outputs({"template.yaml": text}, output_dir)
            click.echo(f"wrote template.yaml to {output_dir}", err=True)
        else:
            echo_result(text)
    elif output_dir:
        if output == "json":
            files = {_file_name(r)[:-5] + ".json": _json_text(r) for r in compiled.resources}
        else:
            files = {_file_name(r): dump_yaml([r]) for r in compiled.resources}
        _write_outputs(files, output_dir)
        click.echo(f"wrote {len(files)} files to {output_dir}", err=True)
    else:
        text = (
            _json_text(_as_list(compiled.resources))
            if output == "json"
            else dump_yaml(compiled.resources)
        )
        echo_result(text)


def _other_form(spec: Spec, target: str, form: str, allow_lossy: Sequence[str]) -> CompileResult:
    """The target's resources in another form it offers (`Adapter.forms`)."""
    adapter = _target_or_usage(target)
    if form not in adapter.forms:
        raise click.UsageError(f"target '{target}' has no {form} form")
    return adapter.compile(spec, CompileOptions(allow_lossy=frozenset(allow_lossy), form=form))


@cli.command(name="import", short_help="Import a mesh's resources into the neutral spec.")
@click.argument("paths", nargs=-1)
@file_option(help="File or directory of the mesh's resources (YAML or JSON), or '-'; repeatable.")
@click.option(
    "--from", "source", required=True, help="Source mesh (see 'meshspec targets'), e.g. istio."
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Format of the neutral spec.",
)
@click.option(
    "--output-dir",
    default=None,
    metavar="DIR",
    help="Write the neutral spec to DIR/mesh.yaml instead of stdout (DIR: empty, new, or "
    "written by meshspec before).",
)
@click.option(
    "--kubeconfig", default=None, metavar="FILE", help="Read the resources from this cluster."
)
@click.option("--context", default=None, help="Kubeconfig context (with --kubeconfig or --live).")
@click.option("--live", is_flag=True, help="Read from the current kubeconfig context.")
@click.option(
    "--consul-addr",
    default=None,
    metavar="ADDR",
    help="Read from this Consul agent's HTTP API (host:port or URL; --from consul).",
)
@click.option(
    "--region",
    default=None,
    help="With --live: read the mesh from this AWS region instead (App Mesh, via boto3).",
)
@click.option(
    "--allow-lossy",
    multiple=True,
    type=click.Choice(["mtls", "authz", "all"]),
    help=ALLOW_LOSSY_HELP,
)
@settings_option
def import_command(
    paths: tuple[str, ...],
    filenames: tuple[str, ...],
    source: str,
    output: str,
    output_dir: str | None,
    kubeconfig: str | None,
    context: str | None,
    live: bool,
    consul_addr: str | None,
    region: str | None,
    allow_lossy: tuple[str, ...],
    appmesh_default_retries: str | None,
) -> None:
    """Import a mesh's resources (files, directories, '-', or a cluster) into the neutral spec.

    \b
    Example:
      meshspec compile -t istio examples/bookinfo/mesh.yaml --output-dir istio/
      meshspec import --from istio -f istio/ > mesh.yaml
    """
    from meshspec.api import apply_lossy_policy
    from meshspec.native import read_native_for

    files = input_paths(paths, filenames, required=False)
    looks_like_path = Path(source).suffix in (".yaml", ".yml", ".json") or Path(source).is_dir()
    if looks_like_path and source not in available_targets():
        raise click.UsageError(
            f"--from names the source mesh (see 'meshspec targets'), not {source!r}; "
            "give the files as arguments or with -f"
        )
    adapter = configured_source(
        _target_or_usage(source), {"--appmesh-default-retries": appmesh_default_retries}
    )
    agent = adapter.agent
    if region is not None:
        if agent is None or agent.option != "--region":
            raise click.UsageError(f"target '{source}' cannot read an AWS account (--region)")
        docs, problems = agent.read(region)
    elif consul_addr is not None:
        if agent is None or agent.option != "--consul-addr":
            raise click.UsageError(f"target '{source}' does not read a Consul agent")
        docs, problems = agent.read(consul_addr)
    elif live or kubeconfig:
        try:
            docs, problems = read_live(source, ClusterRef(kubeconfig, context))
        except NoClusterReader as exc:
            raise click.UsageError(str(exc)) from None
    elif files:
        docs, problems = read_native_for(source, files)
    else:
        raise click.UsageError(
            "name the resources to import: PATH arguments, -f FILE, '-' for stdin, or --live"
        )
    with cyclic_gc_paused():  # drafts and plain data, as compiling: see meshspec.gcpause
        imported = adapter.import_resources(docs)
    diags = apply_lossy_policy([*problems, *imported.diagnostics], allow_lossy)
    emit_diagnostics(diags)
    if has_errors(diags):
        click.echo(_nothing_written(diags), err=True)
        sys.exit(EXIT_FINDINGS)
    if imported.spec is None:
        click.echo(f"nothing written: no {source} resource to import was found", err=True)
        sys.exit(EXIT_FINDINGS)
    text = dump_json(imported.documents) if output == "json" else dump_yaml(imported.documents)
    if output_dir:
        _write_outputs({"mesh." + ("json" if output == "json" else "yaml"): text}, output_dir)
        click.echo(f"wrote the neutral spec to {output_dir}", err=True)
    else:
        echo_result(text)


@cli.command()
def targets() -> None:
    """List the installed target adapters, then the meshes planned but not installed."""
    for name in available_targets():
        try:
            click.echo(f"{name}\t{get_adapter(name).description}")
        except MeshSpecError as exc:
            click.echo(f"{name}\t(unavailable: {exc})")
    for name in planned_targets():
        click.echo(f"{name}\tplanned, not installed: {PLANNED[name]}")


@cli.command(short_help="Print the shell completion script.")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL. Load it in the current shell with

    \b
      eval "$(meshspec completion bash)"      # or zsh; add the line to ~/.bashrc
      meshspec completion fish > ~/.config/fish/completions/meshspec.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # every choice is one of click's built-in shells
    click.echo(cls(cli, {}, "meshspec", "_MESHSPEC_COMPLETE").source())


def _internal_error(exc: BaseException) -> int:
    if _debug["on"]:
        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
    if "file" in _last_read:
        click.echo(f"last file read: {_last_read['file']}", err=True)
    hint = "" if _debug["on"] else "; rerun with --debug for the traceback"
    click.echo(
        "this is a bug in meshspec; please report it with the input that caused it" + hint,
        err=True,
    )
    return EXIT_INTERNAL


cli.add_command(diff)
cli.add_command(plan)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: never lets a traceback reach the user (unless --debug asks)."""
    _debug["on"] = False
    _last_read.clear()
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
        return EXIT_INTERRUPTED
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
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        return _internal_error(exc)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

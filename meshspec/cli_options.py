"""What every `meshspec` command shares: exit codes, the file option, header parsing.

Each command of every package (core, adapters, reference implementation,
conformance suite) uses these, so `-f` means a file and `-H` reads the same
way everywhere, and a CI job can tell the exit codes apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

#: Exit codes, documented in docs/cli.md. 70 is EX_SOFTWARE from sysexits.h.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_NOTHING_CHECKED = 5
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success: no error (warnings are printed; `validate --strict` fails on them)"),
    (
        EXIT_FINDINGS,
        "findings or failed checks: spec errors, a disallowed loss, a failed conformance case, "
        "an expectation that did not hold, a command that could not do its job",
    ),
    (EXIT_USAGE, "usage error: unknown option, command or target, missing argument"),
    (
        EXIT_NOTHING_CHECKED,
        "nothing was checked: a requested conformance target could not run, a target or a "
        "`meshspec test` run checked no case (like pytest's exit 5, no tests collected)",
    ),
    (
        EXIT_INTERNAL,
        "internal error (a bug in meshspec; EX_SOFTWARE of sysexits.h): "
        "rerun with `meshspec --debug` for the traceback and the files read",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C or SIGTERM)"),
)

F = TypeVar("F", bound=Callable[..., Any])

FILE_HELP = "Spec file, directory (every .yaml, .yml, .json below) or '-' for stdin; repeatable."


def file_option(help: str = FILE_HELP) -> Callable[[F], F]:
    """`-f/--filename`, the kubectl/istioctl/helm spelling; positional paths work too."""
    return click.option(
        "-f",
        "--filename",
        "filenames",
        multiple=True,
        metavar="PATH",
        help=help,
    )


def input_paths(
    positional: Iterable[str], filenames: Iterable[str], *, required: bool = True
) -> tuple[str, ...]:
    """Positional PATHs and `-f` files together, in the order given."""
    paths = (*positional, *filenames)
    if required and not paths:
        raise click.UsageError("name the input: PATH arguments or -f FILE (or '-' for stdin)")
    return paths


HEADER_HELP = "Request header as K=V or 'K: V'; repeatable."


def parse_header(text: str) -> tuple[str, str]:
    """`K=V` or `K: V`, split at whichever of '=' and ':' comes first.

    Header names contain neither, so the first one is the separator and the
    value may hold the other (`cookie: a=b`, `x=a:b`).
    """
    cuts = [i for i in (text.find("="), text.find(":")) if i >= 0]
    if not cuts:
        raise click.UsageError(f"header {text!r} is neither K=V nor 'K: V'")
    cut = min(cuts)
    name, value = text[:cut].strip(), text[cut + 1 :].strip()
    if not name or any(c.isspace() for c in name):
        raise click.UsageError(f"header {text!r} has no valid name before '{text[cut]}'")
    return name, value


def parse_headers(texts: Iterable[str]) -> list[tuple[str, str]]:
    return [parse_header(t) for t in texts]


def settings_option(f: F) -> F:
    """`--appmesh-default-retries on|off` for `import` and `plan`: a setting of the source
    mesh's account that its resources do not show. The source adapter declares the
    options it takes (`settings_options`) and applies them (`configured(values)`)."""
    return click.option(
        "--appmesh-default-retries",
        "appmesh_default_retries",
        type=click.Choice(["on", "off"]),
        default=None,
        help="--from appmesh: does the account apply App Mesh's hidden default retry policy "
        "(2 retries on 503, connect-failure, refused-stream) to routes without one? on: "
        "accounts with no mesh before 2020-07-29 [default]; off: older accounts.",
    )(f)


def configured_source(adapter: Any, values: dict[str, str | None]) -> Any:
    """The source adapter with the settings given on the command line (a usage error for
    a setting it does not take)."""
    given = {option: value for option, value in values.items() if value is not None}
    if not given:
        return adapter
    declared = getattr(adapter, "settings_options", ())
    unknown = [option for option in given if option not in declared]
    if unknown:
        raise click.UsageError(f"--from {adapter.name} takes no {', '.join(unknown)}")
    return adapter.configured(given)

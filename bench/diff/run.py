"""`diff` and `plan` over a large mesh, against the time to load the same specs.

Loading the two YAML specs is the baseline measured in the same run; diff and
plan print their time as a ratio of it and in seconds. The budget is 30 s
each at 500 services, in CPU time of this process (as the other benchmarks
measure: the machine is shared); the run fails when it is exceeded.

    python -m bench.diff [--services 500]
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.compile.mesh import service_document
from meshspec.adapter import NativeDocument
from meshspec.codecs import dump_yaml
from meshspec.diff import diff_specs
from meshspec.loader import load_texts
from meshspec.plan import build_plan, plan_targets
from meshspec.registry import get_adapter
from meshspec.spec import Origin, Spec

BUDGET_SECONDS = 30.0
#: the round trip through Istio loses what Istio cannot say; the plan reports it
LOSSY = frozenset({"mtls", "authz"})
MESH = {"apiVersion": "meshspec.io/v1alpha1", "kind": "Mesh", "metadata": {"name": "bench"}}


def documents(total: int, edited: bool) -> list[dict[str, Any]]:
    docs = [service_document(i, total) for i in range(total)]
    if edited:  # a pull request: one weight change, one relaxed mode, one new DENY rule
        docs = copy.deepcopy(docs)
        docs[1]["spec"]["routes"][1]["backends"][0]["weight"] = 80
        docs[2]["spec"]["mtls"] = {"mode": "PERMISSIVE"}
        docs[3]["spec"]["authorization"]["rules"].insert(
            0, {"name": "no-debug", "action": "DENY", "to": {"paths": [{"prefix": "/debug"}]}}
        )
    return [MESH, *docs]


def load(text: str) -> Spec:
    result = load_texts([("bench.yaml", text)])
    assert result.ok and result.spec is not None, result.diagnostics[:3]
    return result.spec


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of this process: the machine is shared, so wall time is noise."""
    start = time.process_time()
    value = work()
    return time.process_time() - start, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.diff")
    parser.add_argument("--services", type=int, default=500)
    args = parser.parse_args(argv)
    old_text = dump_yaml(documents(args.services, edited=False))
    new_text = dump_yaml(documents(args.services, edited=True))

    base, (old, new) = timed(lambda: (load(old_text), load(new_text)))
    print(f"{args.services} services; baseline: loading both specs {base:.2f} s", flush=True)
    failed = False

    def report(name: str, seconds: float, what: str) -> None:
        nonlocal failed
        over = seconds > BUDGET_SECONDS
        failed |= over
        print(
            f"{name:30s} {seconds:7.2f} s  {seconds / base:6.2f}x load  {what}"
            + ("  OVER BUDGET" if over else ""),
            flush=True,
        )

    seconds, comparison = timed(lambda: diff_specs(old, new))
    report(
        "diff",
        seconds,
        f"{comparison.checked} requests, "
        f"{len(comparison.differences)} differences, "
        f"{comparison.unchanged_services} services unchanged",
    )
    seconds, comparison = timed(lambda: diff_specs(old, new, skip_unchanged=False))
    report(
        "diff, every service asked",
        seconds,
        f"{comparison.checked} requests, {len(comparison.differences)} differences",
    )

    istio = get_adapter("istio").compile(old, _options())
    native = [NativeDocument(r, Origin("istio.yaml", i)) for i, r in enumerate(istio.resources)]
    for target in plan_targets():
        seconds, plan = timed(partial(build_plan, "istio", native, target, LOSSY))
        report(
            f"plan istio -> {target}",
            seconds,
            f"{plan.comparison.checked} requests, {len(plan.steps)} steps",
        )
    return 1 if failed else 0


def _options() -> Any:
    from meshspec.adapter import CompileOptions

    return CompileOptions()

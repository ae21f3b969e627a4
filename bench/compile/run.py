"""Time and peak memory of compiling to Istio, against a floor, at growing sizes.

The floor is writing the same objects as YAML without compiling (libyaml's C
emitter through PyYAML, the fastest YAML writer at hand): any real `meshspec
compile` pays at least that, so compile time is reported as a multiple of it.
Growth ratios compare each size with the previous one (10x more services
should cost about 10x, i.e. linear). Time and memory are measured in separate
runs because tracemalloc slows Python down.

Times are CPU seconds of this process (wall time in brackets: the machine is
shared). 50,000 services take a few minutes, mostly building the spec and the
floor, so they are opt-in:

    python -m bench.compile                 # 500 and 5,000 services
    python -m bench.compile --sizes 500,5000,50000
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from adapters.istio.compiler import compile_istio
from bench.compile.mesh import generated_spec

try:
    from yaml import CSafeDumper as Dumper
except ImportError:  # PyYAML without libyaml
    from yaml import SafeDumper as Dumper  # type: ignore[assignment]


def dump_yaml(resources: list[dict[str, Any]]) -> str:
    return yaml.dump_all(resources, Dumper=Dumper, sort_keys=False)


@dataclass(frozen=True)
class Measure:
    #: CPU time of this process: the machine is shared, wall time is noisy
    seconds: float
    wall: float
    peak_mb: float


def measure(work: Callable[[], Any]) -> Measure:
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    work()
    seconds, wall = time.process_time() - cpu, time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Measure(seconds, wall, peak / 2**20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000", help="comma-separated service counts")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{'services':>9} {'objects':>8} {'compile s':>10} {'(wall)':>7} {'floor s':>8} "
        f"{'x floor':>8} "
        f"{'compile MB':>11} {'floor MB':>9} {'time growth':>12} {'mem growth':>11}"
    )
    previous: Measure | None = None
    for n in sizes:
        spec = generated_spec(n)
        resources = compile_istio(spec).resources
        compiled = measure(lambda spec=spec: compile_istio(spec))  # type: ignore[misc]
        floor = measure(lambda resources=resources: dump_yaml(resources))  # type: ignore[misc]
        growth_t = f"{compiled.seconds / previous.seconds:.1f}x" if previous else "-"
        growth_m = f"{compiled.peak_mb / previous.peak_mb:.1f}x" if previous else "-"
        print(
            f"{n:>9} {len(resources):>8} {compiled.seconds:>10.2f} {compiled.wall:>7.2f} "
            f"{floor.seconds:>8.2f} "
            f"{compiled.seconds / floor.seconds:>8.2f} {compiled.peak_mb:>11.1f} "
            f"{floor.peak_mb:>9.1f} {growth_t:>12} {growth_m:>11}",
            flush=True,
        )
        previous = compiled
    return 0

"""Compilers that pause the cyclic garbage collector build no reference cycles.

Istio, App Mesh, ECS Service Connect, Gateway API, VPC Lattice and Consul compile with
the collector paused and freeze what they built (`meshspec.gcpause`): a large mesh's compile
otherwise spent more and more of its time in collections that found nothing.
That is sound only while a compile leaves no cyclic garbage behind (VPC
Lattice's IAM policy JSON makes some: it collects once before freezing), which
would never be freed; these tests collect after a compile and look at what was
found.
"""

from __future__ import annotations

import gc

import pytest

from bench.compile.mesh import write_mesh
from meshspec.api import compile as compile_spec
from meshspec.loader import load_paths
from meshspec.spec import Spec

PAUSED = [
    "istio",
    "appmesh",
    "ecs-service-connect",
    "gateway-api",
    "vpc-lattice",
    "consul",
    "consul-k8s",
]
SERVICES = 60


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    directory = tmp_path_factory.mktemp("mesh")
    write_mesh(directory, SERVICES, per_file=SERVICES, per_namespace=20)
    loaded = load_paths([str(directory)])
    assert loaded.spec is not None
    return loaded.spec


@pytest.mark.parametrize("target", PAUSED)
def test_a_paused_compile_leaves_no_cyclic_garbage(target: str, spec: Spec) -> None:
    compile_spec(spec, target, allow_lossy=["all"])  # imports and caches, once
    gc.unfreeze()  # what earlier work froze, garbage or not, is dealt with first
    gc.collect()
    gc.disable()  # as the compile itself does: nothing collected behind its back
    try:
        result = compile_spec(spec, target, allow_lossy=["all"])
        assert result.resources
        del result
        gc.unfreeze()  # what the compile froze is seen by the collector again
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [
            type(o).__qualname__
            for o in gc.garbage
            if type(o).__module__.split(".")[0] in ("meshspec", "adapters")
        ]
        found = len(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
    # a few objects of the entry-point look-up, whatever the mesh's size
    assert found < SERVICES, f"{found} objects in reference cycles"

"""Which requests behave differently between two specs, found by asking the oracle.

The engine: `probes` derives the requests, `compare` asks two deciders and
groups their disagreements, `classify` names each one's kind, `render`
writes it for people and tools. `sides` reads a side from files, git or a
mesh's resources.
"""

from __future__ import annotations

from dataclasses import replace

from meshspec.diff.classify import Category, classify
from meshspec.diff.compare import (
    BEHAVIOUR_FIELDS,
    FIELDS,
    Comparison,
    Decider,
    Difference,
    compare,
    guarded,
    oracle,
)
from meshspec.diff.probes import DEFAULT_RANDOM, ProbeSet, probe_requests
from meshspec.diff.unchanged import unchanged_services
from meshspec.spec import Spec


def diff_specs(
    old: Spec,
    new: Spec,
    seed: int = 0,
    random_count: int = DEFAULT_RANDOM,
    skip_unchanged: bool = True,
) -> Comparison:
    """Every request whose decision differs between `old` and `new`, by the oracle.

    Services whose answers provably cannot differ (`unchanged`) are not asked
    unless `skip_unchanged` is False; the comparison counts them.
    """
    skipped = unchanged_services(old, new) if skip_unchanged else set()
    probes = probe_requests([old, new], seed, random_count, skip=skipped)
    result = compare(probes.requests, oracle(old), oracle(new), boundary=len(probes.boundary))
    return replace(result, unchanged_services=len(skipped))


__all__ = [
    "BEHAVIOUR_FIELDS",
    "DEFAULT_RANDOM",
    "FIELDS",
    "Category",
    "Comparison",
    "Decider",
    "Difference",
    "ProbeSet",
    "classify",
    "compare",
    "diff_specs",
    "guarded",
    "oracle",
    "probe_requests",
    "unchanged_services",
]

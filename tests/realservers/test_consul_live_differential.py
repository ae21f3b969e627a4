"""The Consul model against real Consul, request by request.

Every probe of the built-in conformance cases, and the requests of a seeded
sample of fuzzed specs, are answered by the Consul adapter's model and by a
real Consul agent with Envoy sidecars (`consul-live`). A difference is a bug
in our reading of Consul (or in the compiler, when Consul refuses what it
wrote). Those found and not fixed yet are listed below, each with the request
that shows it; any other difference fails, and so does a listed one that no
longer shows (remove it from the list).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.library import builtin_cases
from conformance.targets.consul_live import ConsulLiveTarget
from conformance.targets.consul_live_differential import run_cases, run_fuzzed
from conformance.targets.consul_live_mesh import ConsulLoopback
from conformance.targets.live_differential import Difference, render
from conformance.targets.model import ModelTarget

pytestmark = pytest.mark.realservers

FUZZ_SEED = 17
FUZZ_SPECS = 4


#: Fixed so far: in the model, the caller's sidecar routes on the path as sent (`mesh`
#: `HTTP.Incoming.RequestNormalization` normalises on the inbound listener only), shown by
#: `from: client, to: routed, GET //admin` (and `/x/../admin`, `/%61dmin`), which real
#: Consul routes to `rest` (v1) where the model had normalised first and chosen `admin`;
#: in the compiler, a mesh-wide PERMISSIVE writes the `mesh` entry's
#: `AllowEnablingPermissiveMutualTLS` first, which Consul requires before it accepts
#: `MutualTLSMode: permissive` (it answered 500 and kept the old mode). Not a model
#: difference: with one of v1's two instances failing, 6 of 12 requests failed in some
#: runs where the passive health check ejects at the third 5xx; real Consul does put the
#: caller's `PassiveHealthCheck` on every cluster of the discovery chain, the route's
#: subset cluster included, and Envoy did eject, but it holds an ejection back for its
#: update merge window after a host update, so the live target now waits that out. Nor
#: was a 503 on `POST /` with `x-a: 1` to prec-d (routing/precedence.yaml), seen once,
#: and on client to bare (resilience/breakers.yaml) in two of three back-to-back runs of
#: every case in one process: Envoy's "no healthy upstream", because two instances that
#: had run on one sidecar in turn were both given its ID, so one of them did not run.
KNOWN: dict[str, Callable[[Difference], bool]] = {}


#: Differences seen in some runs and not in others: they are excused when they show and
#: never reported stale (the closing note of the change that added them says more).
SOMETIMES: dict[str, Callable[[Difference], bool]] = {}


def _unexplained(differences: list[Difference]) -> list[Difference]:
    excused = [*KNOWN.values(), *SOMETIMES.values()]
    return [d for d in differences if not any(known(d) for known in excused)]


def test_the_model_agrees_with_real_consul_on_every_case(
    consul_loopback: ConsulLoopback,
) -> None:
    report = run_cases(ConsulLiveTarget(), ModelTarget("consul"), builtin_cases())
    assert report.compared > 60
    unexplained = _unexplained(report.differences)
    assert not unexplained, render(report)
    stale = [n for n, known in KNOWN.items() if not any(known(d) for d in report.differences)]
    assert not stale, f"listed differences no longer seen (remove them): {stale}"


def test_the_model_agrees_with_real_consul_on_fuzzed_specs(
    consul_loopback: ConsulLoopback,
) -> None:
    report = run_fuzzed(ConsulLiveTarget(), ModelTarget("consul"), FUZZ_SPECS, FUZZ_SEED)
    assert report.compared >= 1
    unexplained = _unexplained(report.differences)
    assert not unexplained, (
        render(report) + "\n" + "\n---\n".join(d.spec_yaml for d in unexplained[:1])
    )

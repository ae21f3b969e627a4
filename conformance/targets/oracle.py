"""The oracle target: `meshspec.semantics.decide` itself, held to the hand-written cases.

Running the suite against the oracle checks the oracle against the spec's
documentation; the other targets are then checked against the same cases.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from conformance.case import Probe
from conformance.faults import apply_fault
from conformance.observation import DECISION_FIELDS, Observation
from conformance.targets.base import Session
from conformance.targets.requests import request_of
from meshspec.features import ALL_FEATURES
from meshspec.semantics import decide
from meshspec.spec import Spec


class OracleSession:
    def __init__(self, spec: Spec, instances: int = 1) -> None:
        self.spec = spec
        self.instances = instances

    def probe(self, probe: Probe) -> Observation:
        observed = Observation.of_decision(decide(self.spec, request_of(probe)))
        if probe.fault is None:
            return observed
        return apply_fault(observed, probe.fault, self.instances, probe.count)


class OracleTarget:
    name = "oracle"
    description = "meshspec's semantics oracle (the one meaning of the spec)"
    features = ALL_FEATURES
    observes = DECISION_FIELDS
    #: it has every feature
    feature_gaps: Mapping[str, str] = {}

    def check_available(self) -> None:
        return None

    @contextmanager
    def open(self, spec: Spec, spec_text: str, instances: int = 1) -> Iterator[Session]:
        yield OracleSession(spec, instances)

"""One target per installed adapter: compile the case's spec, ask the adapter's model.

A compile that reports errors means the adapter cannot express the spec:
the case is not supported, and the diagnostic codes say why. The model is
the adapter's own reading of its mesh's documented behaviour, so agreement
with the hand-written expectations is evidence, not a tautology.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from conformance.case import Probe
from conformance.faults import apply_fault
from conformance.observation import VERDICT_FIELDS, Observation
from conformance.targets.base import NotSupported, Session, TargetUnavailable
from conformance.targets.requests import request_of
from meshspec.adapter import Adapter, CompileOptions, MeshModel, Topology
from meshspec.errors import UnknownTarget
from meshspec.registry import get_adapter
from meshspec.spec import Spec


def accepted_losses(adapter: Adapter) -> frozenset[str]:
    """The security areas an adapter's column accepts as lost (`conformance_allow_lossy`):
    for a target where every spec loses them (VPC Lattice has no mTLS at all), so that its
    column still checks the rest; the column's description says so, and the target claims
    none of that area's features, so it is held to none of its fields."""
    return frozenset(getattr(adapter, "conformance_allow_lossy", frozenset()))


class ModelSession:
    def __init__(self, model: MeshModel, names: Mapping[str, str], instances: int = 1) -> None:
        self.model = model
        self.names = names
        self.instances = instances

    def probe(self, probe: Probe) -> Observation:
        observed = Observation.of_verdict(self.model.decide(request_of(probe)))
        if probe.fault is not None:
            observed = apply_fault(observed, probe.fault, self.instances, probe.count)
        return replace(
            observed,
            route=_rename(observed.route, self.names),
            authz_rule=_rename(observed.authz_rule, self.names),
        )


def _rename(native: str | None, names: Mapping[str, str]) -> str | None:
    """The neutral name; an empty one means no neutral rule decided (the default did)."""
    return None if native is None else (names.get(native, native) or None)


class ModelTarget:
    """The model of the adapter registered under `name` (loaded lazily).

    Models speak in native names (an Istio rule `api.0`, a policy
    `default/web-allow#0`); the adapter's `neutral_names` maps them back, so
    route and rule names are observed like every other field.
    """

    def __init__(self, name: str, adapter: Adapter | None = None) -> None:
        self.name = name
        self._adapter = adapter
        self._problem = ""
        if adapter is None:
            try:
                self._adapter = get_adapter(name)
            except UnknownTarget as exc:
                self._problem = str(exc)

    @property
    def label(self) -> str:
        """Its support-matrix column: a model, not the mesh itself."""
        return f"{self.name} (model)"

    @property
    def description(self) -> str:
        if self._adapter is None:
            return f"model of the {self.name} adapter (not loadable)"
        accepted = accepted_losses(self._adapter)
        note = f" (compiled with --allow-lossy {','.join(sorted(accepted))})" if accepted else ""
        return f"model of the {self.name} adapter: {self._adapter.description}{note}"

    observes = VERDICT_FIELDS

    @property
    def features(self) -> frozenset[str]:
        return frozenset() if self._adapter is None else frozenset(self._adapter.features)

    @property
    def feature_gaps(self) -> Mapping[str, str]:
        """Why the adapter lacks a feature (its `unsupported_features`)."""
        gaps = {} if self._adapter is None else self._adapter.unsupported_features
        return {str(k): v for k, v in gaps.items()}

    def check_available(self) -> None:
        if self._adapter is None:
            raise TargetUnavailable(self._problem)

    @property
    def adapter(self) -> Adapter:
        self.check_available()
        assert self._adapter is not None
        return self._adapter

    @contextmanager
    def open(self, spec: Spec, spec_text: str, instances: int = 1) -> Iterator[Session]:
        adapter = self.adapter
        compiled = adapter.compile(spec, CompileOptions(allow_lossy=accepted_losses(adapter)))
        errors = [d for d in compiled.diagnostics if d.severity == "error"]
        if errors:
            codes = ", ".join(sorted({d.code for d in errors}))
            first = errors[0].message
            raise NotSupported(f"{self.name} cannot compile the spec ({codes}): {first}")
        names = adapter.neutral_names(compiled.resources)
        model = adapter.model(compiled.resources, Topology.of(spec))
        yield ModelSession(model, names, instances)

"""The live reference implementation: real sidecars and echo apps, real HTTP.

Placeholder until the reference runner lands; reports itself unavailable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from conformance.features import ALL_FEATURES
from conformance.targets.base import Session, TargetUnavailable
from meshspec.spec import Spec


class ReferenceTarget:
    name = "reference"
    description = "meshspec's reference sidecar and control plane, over real sockets"
    features = ALL_FEATURES
    observes = frozenset({"status", "outcome", "backends", "headers"})

    def check_available(self) -> None:
        try:
            import reference_impl.runner  # noqa: F401
        except ImportError as exc:
            raise TargetUnavailable(f"reference implementation not importable: {exc}") from None

    @contextmanager
    def open(self, spec: Spec, spec_text: str) -> Iterator[Session]:
        self.check_available()
        raise TargetUnavailable("reference runner not wired yet")
        yield  # pragma: no cover

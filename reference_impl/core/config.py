"""The snapshot a sidecar runs on, checked once when it arrives.

A request keeps the `Config` it started with, so a swap mid-flight never
changes the rules under a request that is already on its way.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshspec.spec import Spec
from reference_impl.snapshot import Snapshot, SnapshotError


@dataclass(frozen=True)
class Config:
    snapshot: Snapshot
    spec: Spec

    @property
    def version(self) -> int:
        return self.snapshot.version


def load_config(snapshot: Snapshot, service: str) -> Config:
    """SnapshotError when the documents are invalid or do not declare `service`."""
    spec = snapshot.spec
    if service not in spec.services:
        raise SnapshotError(f"snapshot {snapshot.version} does not declare service {service}")
    return Config(snapshot, spec)

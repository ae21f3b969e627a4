"""The snapshot a sidecar runs on, checked once when it arrives.

A request keeps the `Config` it started with, so a swap mid-flight never
changes the rules under a request that is already on its way.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from meshspec.spec import Spec
from reference_impl.core.keys import HOST, read_header_names
from reference_impl.snapshot import Endpoint, Snapshot, SnapshotError

#: requests whose answer a snapshot remembers, and the largest key remembered (target
#: plus the names and values of the headers the rules read, in characters): bounded
#: whatever clients send
MAX_PLANS = 4096
MAX_PLAN_KEY = 1024


@dataclass(frozen=True)
class Config:
    snapshot: Snapshot
    spec: Spec
    #: lower-case names of the headers the spec's rules read or edit (`keys.py`)
    read_headers: frozenset[str] = frozenset({HOST})
    # Per-snapshot answers, worked out on first use rather than on every request.
    _endpoints: dict[tuple[str, str | None], tuple[Endpoint, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _identities: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    #: what the spec answered, keyed by what its rules read of a request (`keys.py`):
    #: bounded, per snapshot
    plans: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def version(self) -> int:
        return self.snapshot.version

    def endpoints_of(self, service: str, version: str | None) -> tuple[Endpoint, ...]:
        """The snapshot's instances of a service (or of one version), in stable order."""
        key = (service, version)
        found = self._endpoints.get(key)
        if found is None:
            found = self._endpoints[key] = tuple(self.snapshot.endpoints_of(service, version))
        return found

    def identity(self, service: str) -> str:
        """The SPIFFE ID of a service's workloads, as the spec names it."""
        found = self._identities.get(service)
        if found is None:
            found = self._identities[service] = self.spec.identity(service)
        return found


def load_config(snapshot: Snapshot, service: str) -> Config:
    """SnapshotError when the documents are invalid or do not declare `service`."""
    spec = snapshot.spec
    if service not in spec.services:
        raise SnapshotError(f"snapshot {snapshot.version} does not declare service {service}")
    return Config(snapshot, spec, read_header_names(spec))

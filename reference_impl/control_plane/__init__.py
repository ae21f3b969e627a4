"""The reference control plane: spec store, CA service, endpoint registry, snapshot stream."""

from reference_impl.control_plane.bootstrap import (
    Bootstrap,
    BootstrapError,
    Entitlements,
    Workload,
    control_plane_identity,
    provision,
)
from reference_impl.control_plane.ca import CertificateService
from reference_impl.control_plane.client import ControlPlaneClient, SnapshotTarget
from reference_impl.control_plane.registry import EndpointRegistry
from reference_impl.control_plane.server import ControlPlane, NoSpec
from reference_impl.control_plane.store import SpecStore

__all__ = [
    "Bootstrap",
    "BootstrapError",
    "CertificateService",
    "ControlPlane",
    "ControlPlaneClient",
    "EndpointRegistry",
    "Entitlements",
    "NoSpec",
    "SnapshotTarget",
    "SpecStore",
    "Workload",
    "control_plane_identity",
    "provision",
]

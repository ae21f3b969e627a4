"""Which mTLS mode a port enforces, and what a connection to it becomes.

The mode of a port is its per-port override, else the service's mode, else
the mesh's (STRICT unless set). A client inside the mesh always originates
mTLS to STRICT and PERMISSIVE ports and plaintext to DISABLE ports. A client
outside the mesh connects in plaintext: STRICT refuses it, the others accept
it. Only an mTLS connection carries the client's identity.
"""

from __future__ import annotations

from enum import StrEnum

from meshspec.semantics.memo import remembered
from meshspec.spec import MtlsMode, Spec


class Transport(StrEnum):
    MTLS = "mtls"
    PLAINTEXT = "plaintext"
    REFUSED = "refused"


def port_mode(spec: Spec, service_key: str, port: int | None) -> MtlsMode:
    return remembered(
        spec, ("port_mode", service_key, port), lambda: _port_mode(spec, service_key, port)
    )


def _port_mode(spec: Spec, service_key: str, port: int | None) -> MtlsMode:
    svc = spec.service(service_key).spec
    if svc.mtls is not None:
        if port is not None and port in svc.mtls.ports:
            return svc.mtls.ports[port]
        if svc.mtls.mode is not None:
            return svc.mtls.mode
    return spec.mesh.mtls.mode


def transport(mode: MtlsMode, client_in_mesh: bool) -> Transport:
    if client_in_mesh:
        return Transport.PLAINTEXT if mode is MtlsMode.DISABLE else Transport.MTLS
    return Transport.REFUSED if mode is MtlsMode.STRICT else Transport.PLAINTEXT


def effective_mtls(
    spec: Spec, source_key: str | None, destination_key: str, port: int | None
) -> tuple[MtlsMode, Transport]:
    """The destination port's mode and the transport a connection from `source_key` gets."""
    mode = port_mode(spec, destination_key, port)
    return mode, transport(mode, source_key is not None)

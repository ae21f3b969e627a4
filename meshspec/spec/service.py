"""Services: ports, versions, and the policies attached to them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from meshspec.spec._base import DNS_LABEL, SpecModel
from meshspec.spec.authz import Authorization
from meshspec.spec.mtls import ServiceMtls
from meshspec.spec.resilience import Resilience
from meshspec.spec.routes import Route


class Protocol(StrEnum):
    HTTP = "http"
    GRPC = "grpc"
    TCP = "tcp"


class Port(SpecModel):
    """A service port and the workload port it lands on.

    `targetPort` is the Kubernetes Service's targetPort: the port the
    workloads listen on. Sidecars see requests on that port, so meshes that
    match on workload ports (Istio's AuthorizationPolicy `ports` and
    PeerAuthentication `portLevelMtls`) need it, not the service port.
    """

    port: int = Field(ge=1, le=65535)
    name: str | None = Field(default=None, pattern=DNS_LABEL)
    protocol: Protocol = Protocol.HTTP
    target_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="The workload (container) port behind this service port. Default: `port`.",
    )

    @property
    def workload_port(self) -> int:
        """Where the service port lands on the workloads."""
        return self.port if self.target_port is None else self.target_port


class Version(SpecModel):
    """A named subset of the service's workloads, chosen by labels."""

    name: str = Field(pattern=DNS_LABEL)
    labels: dict[str, str] = Field(default_factory=dict, description="Default: {version: <name>}.")
    resilience: Resilience | None = None

    @property
    def selector(self) -> dict[str, str]:
        return dict(self.labels) if self.labels else {"version": self.name}


class ServiceSpec(SpecModel):
    service_account: str | None = Field(default=None, pattern=DNS_LABEL)
    ports: tuple[Port, ...] = Field(default=(Port(port=80),), min_length=1)
    versions: tuple[Version, ...] = ()
    routes: tuple[Route, ...] = ()
    mtls: ServiceMtls | None = None
    authorization: Authorization | None = None
    resilience: Resilience | None = None

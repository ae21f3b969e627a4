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
    port: int = Field(ge=1, le=65535)
    name: str | None = Field(default=None, pattern=DNS_LABEL)
    protocol: Protocol = Protocol.HTTP


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

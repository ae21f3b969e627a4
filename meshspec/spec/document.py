"""The documents a spec is made of: one optional `Mesh`, any number of `Service`s."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from meshspec.spec._base import DNS_LABEL, SpecModel
from meshspec.spec.mtls import MeshMtls
from meshspec.spec.service import ServiceSpec

API_VERSION = "meshspec.io/v1alpha1"


class Metadata(SpecModel):
    name: str = Field(pattern=DNS_LABEL)
    namespace: str = Field(default="default", pattern=DNS_LABEL)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class MeshSpec(SpecModel):
    trust_domain: str = Field(default="cluster.local", pattern=r"^[a-z0-9._-]+$")
    mtls: MeshMtls = MeshMtls()


class MeshDocument(SpecModel):
    api_version: Literal["meshspec.io/v1alpha1"]
    kind: Literal["Mesh"]
    metadata: Metadata
    spec: MeshSpec = MeshSpec()


class ServiceDocument(SpecModel):
    api_version: Literal["meshspec.io/v1alpha1"]
    kind: Literal["Service"]
    metadata: Metadata
    spec: ServiceSpec = ServiceSpec()


Document = Annotated[MeshDocument | ServiceDocument, Field(discriminator="kind")]
KINDS = ("Mesh", "Service")

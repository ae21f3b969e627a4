"""Mutual TLS modes, mesh-wide and overridden per service and per port."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from meshspec.spec._base import SpecModel


class MtlsMode(StrEnum):
    STRICT = "STRICT"
    PERMISSIVE = "PERMISSIVE"
    DISABLE = "DISABLE"


class MeshMtls(SpecModel):
    mode: MtlsMode = MtlsMode.STRICT


class ServiceMtls(SpecModel):
    """`mode` overrides the mesh; `ports` overrides `mode` for single ports."""

    mode: MtlsMode | None = None
    ports: dict[int, MtlsMode] = Field(default_factory=dict)

"""Outlier detection and connection limits, per service or per version."""

from __future__ import annotations

from pydantic import Field

from meshspec.spec._base import Duration, SpecModel


class OutlierDetection(SpecModel):
    """Off unless written; fields left out take the defaults below."""

    consecutive_5xx_errors: int | None = Field(default=5, ge=0, alias="consecutive5xxErrors")
    consecutive_gateway_errors: int | None = Field(default=None, ge=0)
    interval: Duration = 10.0
    base_ejection_time: Duration = 30.0
    max_ejection_percent: int = Field(default=10, ge=0, le=100)


class ConnectionLimits(SpecModel):
    """Left out = unlimited."""

    max_connections: int | None = Field(default=None, ge=1)
    max_pending_requests: int | None = Field(default=None, ge=1)
    max_requests_per_connection: int | None = Field(default=None, ge=1)


class Resilience(SpecModel):
    outlier_detection: OutlierDetection | None = None
    connection_limits: ConnectionLimits | None = None

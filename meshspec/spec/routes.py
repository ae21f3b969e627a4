"""HTTP routes: matches, weighted backends, timeouts, retries, header edits."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from meshspec.spec._base import DNS_LABEL, Duration, SpecModel
from meshspec.spec.matches import HeaderMatch, PathMatch, QueryParamMatch

HTTPMethod = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]


class RouteMatch(SpecModel):
    """All conditions must hold. No `path` means prefix `/` (everything)."""

    path: PathMatch | None = None
    method: HTTPMethod | None = None
    headers: tuple[HeaderMatch, ...] = ()
    query_params: tuple[QueryParamMatch, ...] = ()


class Backend(SpecModel):
    """Where a share of the route's traffic goes. No `version`: all endpoints."""

    service: str | None = Field(
        default=None, description="Service name, or namespace/name; default: the route's service."
    )
    version: str | None = None
    weight: int = Field(default=1, ge=0, le=1_000_000)


class RetryOn(StrEnum):
    CONNECT_FAILURE = "connect-failure"
    REFUSED_STREAM = "refused-stream"
    RESET = "reset"
    GATEWAY_ERROR = "gateway-error"
    SERVER_ERROR = "5xx"


DEFAULT_RETRY_ON: tuple[RetryOn, ...] = (
    RetryOn.CONNECT_FAILURE,
    RetryOn.REFUSED_STREAM,
    RetryOn.RESET,
    RetryOn.GATEWAY_ERROR,
)


class Retries(SpecModel):
    """`attempts` counts retries after the first try (0 disables)."""

    attempts: int = Field(ge=0, le=10)
    per_try_timeout: Duration | None = None
    retry_on: tuple[RetryOn, ...] = Field(
        default=DEFAULT_RETRY_ON,
        description="The failures that are retried (Envoy's and Istio's `retryOn` names).",
    )
    status_codes: tuple[Annotated[int, Field(ge=400, le=599)], ...] = Field(
        default=(), description="Also retry when the upstream answers one of these statuses."
    )


class HeaderEdits(SpecModel):
    """Edits applied to the request before it reaches the backend."""

    set: dict[str, str] = Field(default_factory=dict)
    add: dict[str, str] = Field(default_factory=dict)
    remove: tuple[str, ...] = ()


class Route(SpecModel):
    name: str = Field(pattern=DNS_LABEL)
    matches: tuple[RouteMatch, ...] = ()
    backends: tuple[Backend, ...] = ()
    timeout: Duration | None = Field(
        default=None, description="Whole request including retries; default 15s; '0s' disables."
    )
    retries: Retries | None = None
    request_headers: HeaderEdits | None = None

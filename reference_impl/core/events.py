"""What the shell tells the core: facts, each with the time it happened.

The core never reads a clock or a socket; every event carries `now` (seconds on
any monotonic scale) and, where a choice is random, the random number to use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from meshspec.semantics.headers import field_lines_values


class FailureKind(StrEnum):
    """How an upstream attempt failed without an HTTP response."""

    CONNECT_FAILURE = "connect-failure"  # refused, unreachable, TLS or identity failure
    REFUSED_STREAM = "refused-stream"  # the peer closed before reading the request
    RESET = "reset"  # the connection died after the request was sent


Headers = tuple[tuple[str, str], ...]


def join_headers(headers: Headers) -> dict[str, str]:
    """Header field lines as the oracle reads them: lower-case names, values stripped,
    a repeated header's values joined with ','."""
    return field_lines_values(headers)


# One per request: slotted, not frozen (a frozen dataclass's __init__ makes a call per
# field); no one changes it once made.
@dataclass(slots=True)
class RequestReceived:
    """The local application sent a request; `random` in [0, 1) picks a weighted backend."""

    request_id: int
    method: str
    target: str
    headers: Headers
    now: float
    random: float = 0.0


@dataclass(frozen=True)
class UpstreamConnected:
    conn_id: int
    now: float


@dataclass(frozen=True)
class UpstreamConnectFailed:
    conn_id: int
    now: float
    reason: str = "connect failed"


# One per request: slotted, not frozen (a frozen dataclass's __init__ makes a call per
# field); no one changes it once made.
@dataclass(slots=True)
class UpstreamResponse:
    """A whole response arrived for one attempt; `keep_alive` says if the connection is reusable."""

    request_id: int
    attempt: int
    status: int
    now: float
    keep_alive: bool = True


@dataclass(frozen=True)
class UpstreamFailed:
    request_id: int
    attempt: int
    kind: FailureKind
    now: float


@dataclass(frozen=True)
class UpstreamClosed:
    """An idle pooled connection was closed by the peer."""

    conn_id: int
    now: float


@dataclass(frozen=True)
class Tick:
    now: float


OutboundEvent = (
    RequestReceived
    | UpstreamConnected
    | UpstreamConnectFailed
    | UpstreamResponse
    | UpstreamFailed
    | UpstreamClosed
    | Tick
)

"""What the core asks the shell to do. The shell performs them and reports back with events."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_impl.core.events import Headers
from reference_impl.snapshot import Endpoint


@dataclass(frozen=True)
class OpenConnection:
    """Connect to `endpoint`'s listener `port`; originate mTLS and require the peer to be
    `tls_identity`.

    `tls_identity` None means plaintext (the destination port's mode is DISABLE).
    `port` None: the endpoint's default listener.
    """

    conn_id: int
    endpoint: Endpoint
    tls_identity: str | None
    port: int | None = None


# One per request: slotted, not frozen (a frozen dataclass's __init__ makes a call per
# field); no one changes it once made.
@dataclass(slots=True)
class SendRequest:
    """Write the request on an open connection; the body is the one the shell holds."""

    request_id: int
    attempt: int
    conn_id: int
    method: str
    target: str
    headers: Headers


# One per request: slotted, not frozen (a frozen dataclass's __init__ makes a call per
# field); no one changes it once made.
@dataclass(slots=True)
class Respond:
    """Answer the application. `upstream_attempt` set: relay that attempt's response."""

    request_id: int
    status: int
    reason: str
    route: str | None = None
    backend: str | None = None
    upstream_attempt: int | None = None
    endpoint: str | None = None
    #: the whole-request timeout the request ran under ("3s", "none"); None when not forwarded.
    #: Told to the application for observability only, so it takes no part in equality.
    timeout: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CloseConnection:
    conn_id: int
    reason: str


@dataclass(frozen=True)
class Retried:
    """Attempt `attempt` of a request starts because the previous one failed for `reason`."""

    request_id: int
    attempt: int
    reason: str
    backend: str = ""


@dataclass(frozen=True)
class Overflowed:
    """A connection limit turned a request away (the shell counts it)."""

    request_id: int
    cluster: str


@dataclass(frozen=True)
class Ejected:
    endpoint: Endpoint
    until: float
    ejections: int


@dataclass(frozen=True)
class Returned:
    endpoint: Endpoint


OutboundAction = (
    OpenConnection
    | SendRequest
    | Respond
    | CloseConnection
    | Retried
    | Overflowed
    | Ejected
    | Returned
)

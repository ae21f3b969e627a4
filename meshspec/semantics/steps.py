"""Steps of a request whose meaning is the spec's own, shared by the oracle, the
reference core and every adapter's model (docs/spec.md, "Outcomes" and "Retries").

These are definitions, not decisions: which port a request without one uses, how
a host name splits into a service's name and namespace, how the results of each
backend of a weighted route roll up into one outcome, and which statuses a retry
policy retries. A model still reads its mesh's own resources to get the inputs
(which backends, allowed or not, refused or not) and never asks the oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from meshspec.durations import format_duration
from meshspec.spec import Retries, RetryOn


class Outcome(StrEnum):
    """What happens to a request, in words every target shares (docs/spec.md, "Outcomes")."""

    FORWARDED = "forwarded"
    BAD_REQUEST = "bad_request"
    NO_ROUTE = "no_route"
    #: the chosen route's backends have no endpoints (503); a valid spec never gets here,
    #: since its references are checked (MS204, MS205), but a mesh's own resources can
    UNAVAILABLE = "unavailable"
    DENIED = "denied"
    PARTIALLY_DENIED = "partially_denied"
    MTLS_REFUSED = "mtls_refused"
    UNKNOWN_PORT = "unknown_port"
    NOT_HTTP = "not_http"
    #: the addressed service is not in the spec: `decide` raises UnknownService; `meshspec
    #: diff` compares two specs, where a service may exist on one side only
    UNKNOWN_SERVICE = "unknown_service"


# --- ports ---------------------------------------------------------------------------


def choose_port(ports: Iterable[tuple[int, str]], requested: int | None) -> int:
    """The port a request uses: the requested one if the service has it, else the
    service's first HTTP port (any protocol but `tcp`), else its first port.
    `ports` are `(number, protocol)` in the service's order, never empty."""
    listed = list(ports)
    if requested is not None and any(number == requested for number, _ in listed):
        return requested
    http = [number for number, protocol in listed if str(protocol) != "tcp"]
    return http[0] if http else listed[0][0]


# --- host names ----------------------------------------------------------------------

#: the DNS suffix of a service's fully qualified name: `name.ns.svc.cluster.local`
CLUSTER_SUFFIX = ("svc", "cluster", "local")


def in_cluster_domain(rest: tuple[str, ...]) -> bool:
    """The spec's reading of what may follow `name.ns`: `svc`, `svc.cluster` or
    `svc.cluster.local` (a name with any other suffix is outside the mesh)."""
    return rest == CLUSTER_SUFFIX[: len(rest)]


def host_parts(
    host: str, in_cluster: Callable[[tuple[str, ...]], bool] = in_cluster_domain
) -> tuple[str, str | None] | None:
    """`name` -> (name, None); `name.ns` and `name.ns.<suffix>` -> (name, ns) when
    `in_cluster(suffix)` holds, else None (a host outside the mesh). `host` is
    already normalised: lower case, no port, no trailing dot. A mesh whose reading
    of suffixes differs passes its own `in_cluster`."""
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], None
    if len(parts) > 2 and not in_cluster(tuple(parts[2:])):
        return None
    return parts[0], parts[1]


# --- rolling backends up -------------------------------------------------------------


@dataclass(frozen=True)
class BackendResult:
    """What became of a request at one backend that gets traffic (weight > 0)."""

    #: the backend's port refused the connection (STRICT mTLS, plaintext client)
    refused: bool
    #: its authorization's answer; None when never asked (refused first)
    allowed: bool | None
    #: the backend has endpoints (a subset or version that selects no pod has none)
    defined: bool = True


def roll_up(backends: Sequence[BackendResult]) -> tuple[Outcome, int | None]:
    """One outcome and status for a request split over `backends`: unavailable
    (503) when none can take it, refused or denied (403) when every backend
    refuses or denies it, partially denied when only some do, else forwarded."""
    if not backends or all(not b.defined for b in backends):
        return Outcome.UNAVAILABLE, 503
    if all(b.refused for b in backends):
        return Outcome.MTLS_REFUSED, None
    if all(b.allowed is False for b in backends):
        return Outcome.DENIED, 403
    if any(b.allowed is not True or not b.defined for b in backends):
        return Outcome.PARTIALLY_DENIED, None
    return Outcome.FORWARDED, None


# --- retries -------------------------------------------------------------------------

#: the statuses `gateway-error` retries
GATEWAY_ERRORS = frozenset({502, 503, 504})
#: the failure name of a try cut by its per-try timeout
PER_TRY_TIMEOUT = "per-try-timeout"
#: A try that ends without a response, by how it failed: the conditions that retry
#: it. The conditions mean what Envoy's do: `5xx` covers any 5xx response and any
#: try without a response; `gateway-error` covers 502/503/504 and the same failures
#: (Envoy reports them as 503/504); `reset` a connection that died or timed out
#: before responding; `connect-failure` and `refused-stream` only themselves.
FAILURE_CONDITIONS: dict[str, frozenset[RetryOn]] = {
    "connect-failure": frozenset(
        {RetryOn.CONNECT_FAILURE, RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}
    ),
    "refused-stream": frozenset(
        {RetryOn.REFUSED_STREAM, RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}
    ),
    "reset": frozenset({RetryOn.RESET, RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}),
    PER_TRY_TIMEOUT: frozenset({RetryOn.RESET, RetryOn.SERVER_ERROR, RetryOn.GATEWAY_ERROR}),
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 0
    per_try_timeout: float | None = None
    retry_on: tuple[RetryOn, ...] = ()
    status_codes: tuple[int, ...] = ()

    @classmethod
    def of(cls, retries: Retries | None) -> RetryPolicy:
        if retries is None or retries.attempts == 0:
            return cls()
        return cls(
            retries.attempts, retries.per_try_timeout, retries.retry_on, retries.status_codes
        )

    def to_json(self) -> dict[str, object]:
        return {
            "attempts": self.attempts,
            "perTryTimeout": None
            if self.per_try_timeout is None
            else format_duration(self.per_try_timeout),
            "retryOn": [str(o) for o in self.retry_on],
            "statusCodes": list(self.status_codes),
        }


def retriable_status(policy: RetryPolicy, status: int) -> bool:
    """Whether a try answered with `status` is retried: a listed status code, any 5xx
    under `5xx`, 502/503/504 under `gateway-error`."""
    if status in policy.status_codes:
        return True
    if RetryOn.SERVER_ERROR in policy.retry_on and 500 <= status <= 599:
        return True
    return RetryOn.GATEWAY_ERROR in policy.retry_on and status in GATEWAY_ERRORS


def retriable_failure(policy: RetryPolicy, failure: str) -> bool:
    """Whether a try that failed without a response (`FAILURE_CONDITIONS` keys) is
    retried."""
    return bool(FAILURE_CONDITIONS[failure] & set(policy.retry_on))

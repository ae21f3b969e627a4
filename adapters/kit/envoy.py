"""What Envoy does, for every mesh whose data plane is Envoy (Istio, Consul, App Mesh).

Each fact cites Envoy's documentation or source (envoyproxy/envoy); a mesh's
adapter maps its own configuration onto these and cites the mesh for that part.

Retries: `x-envoy-retry-on` / `RetryPolicy.retry_on`
(https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on).
Timeouts and outlier detection: `RouteAction.timeout`, `OutlierDetection`
(api/envoy/config/route/v3/route_components.proto,
api/envoy/config/cluster/v3/outlier_detection.proto). Paths:
`HttpConnectionManager.normalize_path`, `merge_slashes`,
`path_with_escaped_slashes_action` (api/envoy/extensions/filters/network/
http_connection_manager/v3/http_connection_manager.proto), applied in
`ConnectionManagerUtility::maybeNormalizePath`. Headers: the HTTP/1 codec
(source/common/http/http1/codec_impl.cc).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from meshspec.spec import RetryOn

# --- retries -----------------------------------------------------------------------

#: `retry_on` names with a neutral counterpart: the neutral conditions are Envoy's
#: words with Envoy's meaning (docs/spec.md, "Retries").
RETRY_ON_NAMES: Mapping[str, RetryOn] = {
    "connect-failure": RetryOn.CONNECT_FAILURE,
    "refused-stream": RetryOn.REFUSED_STREAM,
    "reset": RetryOn.RESET,
    "gateway-error": RetryOn.GATEWAY_ERROR,
    "5xx": RetryOn.SERVER_ERROR,
}
#: neutral condition -> the `retry_on` name a compiler writes
RETRY_ON_OF: Mapping[RetryOn, str] = {cond: name for name, cond in RETRY_ON_NAMES.items()}

#: What each `retry_on` name retries, in the router filter's words:
#: `5xx`: any 5xx response, and a try with no response (connect failure, reset,
#: refused stream, per-try timeout); `gateway-error`: 502, 503, 504 and the same
#: tries without a response; `reset`: a connection reset or timed out before a
#: response; `connect-failure`: the connection could not be made;
#: `refused-stream`: the upstream refused the stream (REFUSED_STREAM);
#: `retriable-status-codes`: the statuses in `retriable_status_codes`;
#: `retriable-4xx`: 409; `reset-before-request`: a reset before the request was
#: sent; `envoy-ratelimited`: Envoy's own 429 with `x-envoy-ratelimited`;
#: `http3-post-connect-failure`: an HTTP/3 try that failed after connecting.
#: gRPC names (`x-envoy-retry-grpc-on`, also accepted in `retry_on`): `cancelled`,
#: `deadline-exceeded`, `internal`, `resource-exhausted`, `unavailable`.
RETRY_ON_ALL: frozenset[str] = frozenset(
    {
        *RETRY_ON_NAMES,
        "retriable-status-codes",
        "retriable-4xx",
        "reset-before-request",
        "envoy-ratelimited",
        "retriable-headers",
        "http3-post-connect-failure",
        "cancelled",
        "deadline-exceeded",
        "internal",
        "resource-exhausted",
        "unavailable",
    }
)
#: the condition that makes `retriable_status_codes` count
RETRIABLE_STATUS_CODES = "retriable-status-codes"
#: `RetryPolicy.num_retries` when a retry policy sets none
DEFAULT_NUM_RETRIES = 1


@dataclass(frozen=True)
class RetryOnList:
    """A `retry_on` list read item by item: the neutral conditions (in order, once
    each), the integers (status codes, as some meshes write them into the list), and
    every other item as written."""

    conditions: tuple[RetryOn, ...]
    numbers: tuple[int, ...]
    others: tuple[str, ...]


def read_retry_on(text: str) -> RetryOnList:
    """`"5xx,unavailable,503"` -> conditions (5xx), numbers (503), others (unavailable)."""
    conditions: list[RetryOn] = []
    numbers: list[int] = []
    others: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.isdigit():
            numbers.append(int(item))
        elif item in RETRY_ON_NAMES:
            if RETRY_ON_NAMES[item] not in conditions:
                conditions.append(RETRY_ON_NAMES[item])
        else:
            others.append(item)
    return RetryOnList(tuple(conditions), tuple(numbers), tuple(others))


# --- timeouts and outlier detection --------------------------------------------------

#: `RouteAction.timeout` when the route sets none (0 turns it off)
DEFAULT_ROUTE_TIMEOUT = 15.0


@dataclass(frozen=True)
class OutlierDefaults:
    """`OutlierDetection` fields a configuration leaves out."""

    consecutive_5xx: int = 5
    #: `consecutive_gateway_failure`, enforced 0% by default: off
    consecutive_gateway_failure: int | None = None
    interval: float = 10.0
    base_ejection_time: float = 30.0
    max_ejection_percent: int = 10


OUTLIER_DEFAULTS = OutlierDefaults()


# --- paths ---------------------------------------------------------------------------

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class PathOptions:
    """The listener's path settings, applied in Envoy's order: unescape slashes, then
    normalise, then merge (so `/a//../b` becomes `/a/b`, not `/b`)."""

    #: `path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD` (`%2F`, `%5C`)
    unescape_slashes: bool = False
    #: `normalize_path`: RFC 3986 dot segments, `\\` -> `/`, unreserved escapes decoded
    normalize_path: bool = False
    #: `merge_slashes`: runs of `/` become one
    merge_slashes: bool = False


def unescape_slashes(path: str) -> str:
    for escaped, plain in (("%2F", "/"), ("%2f", "/"), ("%5C", "\\"), ("%5c", "\\")):
        path = path.replace(escaped, plain)
    return path


def normalize_path(path: str) -> str:
    """Envoy `normalize_path`: decode unreserved escapes, `\\` -> `/`, remove dot segments."""
    out: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        pair = path[i + 1 : i + 3]
        if ch == "%" and len(pair) == 2 and set(pair) <= _HEX:
            decoded = chr(int(pair, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + pair.upper())
            i += 3
            continue
        out.append("/" if ch == "\\" else ch)
        i += 1
    return _remove_dot_segments("".join(out))


def _remove_dot_segments(path: str) -> str:
    segments = path.split("/")[1:]
    kept: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment in (".", ".."):
            if segment == ".." and kept:
                kept.pop()
            if last:
                kept.append("")
            continue
        kept.append(segment)
    return "/" + "/".join(kept)


def merge_slashes(path: str) -> str:
    while "//" in path:
        path = path.replace("//", "/")
    return path


def apply_path_options(path: str, options: PathOptions) -> str:
    """The path routes and filters see, under `options`."""
    if options.unescape_slashes:
        path = unescape_slashes(path)
    if options.normalize_path:
        path = normalize_path(path)
    if options.merge_slashes:
        path = merge_slashes(path)
    return path


def parse_query(raw: str) -> tuple[tuple[str, str], ...]:
    """`a=1&b=%20` -> the decoded pairs in order (repeats kept)."""
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&") if raw else ():
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return tuple(pairs)


def first_query_value(query: Sequence[tuple[str, str]], name: str) -> str | None:
    """Envoy reads the first value of a repeated parameter (QueryParamsMulti::getFirstValue)."""
    for key, value in query:
        if key == name:
            return value
    return None


# --- headers -------------------------------------------------------------------------

#: what the HTTP/1 codec trims from each value: leading whitespace as it arrives
#: (`ConnectionImpl::onHeaderValue`, `StringUtil::ltrim`), trailing when the line
#: is complete (`completeLastHeader`, `current_header_value_.rtrim()`)
_ENVOY_TRIMS = " \t"

HeaderLines = Mapping[str, tuple[str, ...]]


def header_values(headers: Mapping[str, str | Sequence[str]]) -> dict[str, str]:
    """Lower-case names to one string: each line trimmed, a name's lines joined with
    `,` (as an application reads them, RFC 9110 §5.3). A sequence of values is the
    header sent once per value, in order."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lines = [value] if isinstance(value, str) else list(value)
        for line in lines:
            key = name.lower()
            trimmed = line.strip(_ENVOY_TRIMS)
            out[key] = f"{out[key]},{trimmed}" if key in out else trimmed
    return out


def header_lines(headers: Mapping[str, str | Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Lower-case names to the lines Envoy keeps, each trimmed, in order. The route
    matcher and the RBAC filter (Envoy 1.40) match a header condition against each
    line separately and hold when any line matches."""
    out: dict[str, tuple[str, ...]] = {}
    for name, value in headers.items():
        lines = [value] if isinstance(value, str) else list(value)
        key = name.lower()
        out[key] = out.get(key, ()) + tuple(line.strip(_ENVOY_TRIMS) for line in lines)
    return out

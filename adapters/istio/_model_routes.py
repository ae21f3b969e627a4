"""VirtualService routing as a sidecar applies it: first matching `http` rule wins.

Sources: istio/api `networking/v1alpha3/virtual_service.proto` (rules are an ordered
list, first match wins; `match` entries ORed, fields inside one entry ANDed;
`uri.prefix` is a plain string prefix; headers with an empty StringMatch are a
presence test; `ignoreUriCase` affects exact and prefix only; weights are relative
and a single destination takes everything; `timeout` defaults to disabled),
istio/istio `pilot/pkg/networking/core/route/route.go` (a VirtualService for the
host replaces the default route, so an unmatched request gets 404; without one the
default route goes to every endpoint with the default retry policy and no timeout)
and `pilot/pkg/networking/core/route/retry/retry.go` (defaults and `retryOn` parsing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from adapters.istio._model_names import host_covers, host_key, string_match
from adapters.istio._model_paths import IstioTarget
from adapters.istio.resources import DEFAULT_ATTEMPTS, DEFAULT_RETRY_ON
from adapters.kit import envoy
from meshspec.adapter import Topology
from meshspec.durations import parse_duration
from meshspec.semantics import RetryPolicy

_KNOWN_STATUSES = frozenset(int(s) for s in HTTPStatus)


def retry_policy(retries: Any) -> RetryPolicy:
    """The retry policy of a rule's `retries` field (None = Istio's default policy)."""
    if retries is None:
        return _policy(DEFAULT_ATTEMPTS, None, DEFAULT_RETRY_ON)
    attempts = int(retries.get("attempts") or 0)
    if attempts <= 0:
        return RetryPolicy()
    per_try = retries.get("perTryTimeout")
    retry_on = retries.get("retryOn")
    return _policy(
        attempts,
        None if per_try is None else parse_duration(str(per_try)),
        DEFAULT_RETRY_ON if not retry_on else str(retry_on),
    )


def _policy(attempts: int, per_try: float | None, retry_on: str) -> RetryPolicy:
    """Envoy reads the names (`adapters.kit.envoy`); the integers are Istio's: retry.go
    `parseRetryOn` makes only those Go knows as statuses into retriable status codes."""
    read = envoy.read_retry_on(retry_on)
    codes = tuple(n for n in read.numbers if n in _KNOWN_STATUSES)
    return RetryPolicy(attempts, per_try, read.conditions, codes)


def route_timeout(rule: Mapping[str, Any]) -> float | None:
    value = rule.get("timeout")
    if value is None:
        return None
    seconds = parse_duration(str(value)) if str(value) not in ("0s", "0") else 0.0
    return seconds or None


def virtual_service_for(
    resources: Sequence[Mapping[str, Any]], key: str, topology: Topology
) -> Mapping[str, Any] | None:
    """The VirtualService a sidecar uses for the host; sidecars do not merge several,
    so the first one (oldest, in resource order) is used (semantics.md §2.1)."""
    for res in resources:
        if res.get("kind") != "VirtualService":
            continue
        spec = res.get("spec") or {}
        gateways = spec.get("gateways")
        if gateways and "mesh" not in gateways:
            continue
        ns = (res.get("metadata") or {}).get("namespace") or "default"
        if any(host_covers(str(h), ns, key, topology) for h in spec.get("hosts") or ()):
            return res
    return None


@dataclass(frozen=True)
class RequestView:
    method: str
    target: IstioTarget
    #: each header's lines, trimmed (`envoy_header_lines`)
    headers: Mapping[str, tuple[str, ...]]
    port: int
    source_namespace: str | None
    source_labels: Mapping[str, str]


def first_matching_rule(
    rules: Sequence[Mapping[str, Any]], request: RequestView
) -> tuple[int, Mapping[str, Any]] | None:
    for index, rule in enumerate(rules):
        matches = rule.get("match") or []
        if not matches or any(_match_holds(m, request) for m in matches):
            return index, rule
    return None


def _match_holds(m: Mapping[str, Any], request: RequestView) -> bool:
    ignore_case = bool(m.get("ignoreUriCase"))
    uri = m.get("uri")
    if uri is not None and not string_match(uri, request.target.path, ignore_case):
        return False
    method = m.get("method")
    if method is not None and not string_match(method, request.method):
        return False
    for name, cond in (m.get("headers") or {}).items():
        if not _header_holds(cond, request.headers.get(str(name).lower())):
            return False
    for name, cond in (m.get("withoutHeaders") or {}).items():
        if _header_holds(cond, request.headers.get(str(name).lower())):
            return False
    for name, cond in (m.get("queryParams") or {}).items():
        value = request.target.query_value(str(name))
        if value is None:
            return False
        if isinstance(cond, Mapping) and cond.get("exact") == "":
            continue
        if cond and not string_match(cond, value):
            return False
    if m.get("port") is not None and int(m["port"]) != request.port:
        return False
    source_ns = m.get("sourceNamespace")
    if source_ns is not None and source_ns != request.source_namespace:
        return False
    labels = m.get("sourceLabels") or {}
    return all(request.source_labels.get(str(k)) == str(v) for k, v in labels.items())


def _header_holds(cond: Any, lines: tuple[str, ...] | None) -> bool:
    """A route header condition holds when any one line of the header matches it.

    Measured on the real Envoy the tests run (1.40): with the lines `0` and `1`
    an exact `1` route is taken; the lines are not joined for route matching
    (tests/realservers/test_istio_live_differential.py compares this model with
    real Istio on repeated header lines)."""
    if not lines:
        return False
    if not cond:
        return True
    return any(string_match(cond, line) for line in lines)


@dataclass(frozen=True)
class Destination:
    key: str | None
    host: str
    subset: str | None
    port: int | None
    weight: int


def destinations(rule: Mapping[str, Any], namespace: str, topology: Topology) -> list[Destination]:
    routes = rule.get("route") or []
    out: list[Destination] = []
    for entry in routes:
        dest = entry.get("destination") or {}
        host = str(dest.get("host", ""))
        port = (dest.get("port") or {}).get("number")
        weight = entry.get("weight")
        if weight is None:
            weight = 100 if len(routes) == 1 else 0
        out.append(
            Destination(
                key=host_key(host, namespace, topology),
                host=host,
                subset=dest.get("subset"),
                port=None if port is None else int(port),
                weight=int(weight),
            )
        )
    return out

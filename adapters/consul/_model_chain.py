"""The discovery chain: router, then splitter, then resolver (Consul's L7 traffic management).

Read from the service-router, service-splitter and service-resolver reference pages and
consul `agent/consul/discoverychain/compile.go`:

* The router's routes are tried in order; the first whose `Match` holds (no `Match`: every
  request) decides. A request no route matches takes the default route to the router's own
  service ("a default catch-all will send unmatched traffic to" the service).
* A destination with `ServiceSubset` goes to that resolver subset; without one, through the
  destination service's splitter when it has one (a splitter split naming its own service
  goes to the resolver, not to itself), else to its resolver's `DefaultSubset` (none: every
  instance).
* Timeouts: a route's `RequestTimeout` (> 0 that value, < 0 none, 0 or unset Envoy's 15 s);
  with no router or splitter in front, the resolver's `RequestTimeout` (default 15 s).
* Retries only where the route's destination sets a retry field; then `NumRetries`
  defaults to 1 (Envoy's `num_retries` default) and the conditions are
  `connect-failure` (from `RetryOnConnectFailure`), `RetryOn[]`, and
  `retriable-status-codes` with `RetryOnStatusCodes` (consul `agent/xds/routes.go`
  `getRetryPolicyForDestination`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.kit.envoy import DEFAULT_NUM_RETRIES, DEFAULT_ROUTE_TIMEOUT, RETRY_ON_NAMES
from meshspec.durations import parse_duration
from meshspec.semantics import RetryPolicy
from meshspec.spec import RetryOn

DEFAULT_TIMEOUT = DEFAULT_ROUTE_TIMEOUT


@dataclass(frozen=True)
class Leg:
    """Where a share of the traffic ends: a service and a subset name (None: every instance)."""

    service: str
    subset: str | None
    weight: float
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Routed:
    route: str | None
    legs: tuple[Leg, ...]
    timeout: float | None
    retries: RetryPolicy
    headers: Mapping[str, Any]


def seconds(value: Any) -> float:
    """A Consul duration: a Go duration string or nanoseconds."""
    if isinstance(value, (int, float)):
        return float(value) / 1e9
    text = str(value)
    if text.startswith("-"):
        return -parse_duration(text[1:])
    return parse_duration(text)


def retry_policy(dest: Mapping[str, Any]) -> RetryPolicy:
    num = int(dest.get("NumRetries") or 0)
    on_connect = bool(dest.get("RetryOnConnectFailure"))
    on = [str(x) for x in dest.get("RetryOn") or []]
    codes = tuple(int(c) for c in dest.get("RetryOnStatusCodes") or [])
    if not (num or on_connect or on or codes):
        return RetryPolicy()
    conditions: list[RetryOn] = []
    for name in (["connect-failure"] if on_connect else []) + on:
        cond = RETRY_ON_NAMES.get(name)
        if cond is not None and cond not in conditions:
            conditions.append(cond)
    return RetryPolicy(num or DEFAULT_NUM_RETRIES, None, tuple(conditions), codes)


def route_timeout(dest: Mapping[str, Any]) -> float | None:
    raw = dest.get("RequestTimeout")
    if raw in (None, "", 0, "0s", "0"):
        return DEFAULT_TIMEOUT
    value = seconds(raw)
    if value < 0:
        return None
    return value or DEFAULT_TIMEOUT


class Chain:
    def __init__(self, entries: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        self.entries = entries

    def splitter(self, name: str) -> Mapping[str, Any] | None:
        return self.entries.get(("service-splitter", name))

    def resolver(self, name: str) -> Mapping[str, Any] | None:
        return self.entries.get(("service-resolver", name))

    def legs(self, service: str, subset: str | None, weight: float, depth: int = 0) -> list[Leg]:
        """The resolver targets a destination reaches (through splitters)."""
        if subset is None and depth < 8:
            split = self.splitter(service)
            if split is not None:
                out: list[Leg] = []
                for s in split.get("Splits") or []:
                    share = weight * float(s.get("Weight") or 0) / 100
                    to = str(s.get("Service") or service)
                    sub = s.get("ServiceSubset") or None
                    if to == service and sub is None:
                        out.append(self._resolve(to, None, share, s.get("RequestHeaders")))
                    elif to == service:
                        out.append(self._resolve(to, str(sub), share, s.get("RequestHeaders")))
                    else:
                        for leg in self.legs(
                            to, None if sub is None else str(sub), share, depth + 1
                        ):
                            out.append(_with_headers(leg, s.get("RequestHeaders")))
                return out
        return [self._resolve(service, subset, weight, None)]

    def _resolve(self, service: str, subset: str | None, weight: float, headers: Any) -> Leg:
        res = self.resolver(service) or {}
        redirect = res.get("Redirect")
        if isinstance(redirect, Mapping) and redirect.get("Service"):
            return self._resolve(
                str(redirect["Service"]), redirect.get("ServiceSubset") or subset, weight, headers
            )
        if subset is None and res.get("DefaultSubset"):
            subset = str(res["DefaultSubset"])
        return Leg(service, subset, weight, headers or {})

    def first_timeout(self, service: str) -> float | None:
        """The timeout when no router decides: the resolver's, if it is the first node."""
        if self.splitter(service) is not None:
            return DEFAULT_TIMEOUT
        raw = (self.resolver(service) or {}).get("RequestTimeout")
        if raw in (None, "", 0, "0s"):
            return DEFAULT_TIMEOUT
        return seconds(raw) or DEFAULT_TIMEOUT


def _with_headers(leg: Leg, headers: Any) -> Leg:
    if not headers:
        return leg
    return Leg(leg.service, leg.subset, leg.weight, headers)

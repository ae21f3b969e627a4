"""Passive outlier detection per endpoint, after Envoy's consecutive-error detectors.

An endpoint is ejected when it returns `consecutive5xxErrors` 5xx responses in a
row, or `consecutiveGatewayErrors` 502/503/504 in a row (a failed connection or
a reset counts as both: Envoy maps local-origin failures to 503). It stays out
for `baseEjectionTime` x the number of times it has been ejected and then
returns. An ejection that would take the cluster above `maxEjectionPercent`
is skipped, except that one endpoint can always be ejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meshspec.semantics import GATEWAY_ERRORS
from meshspec.spec import OutlierDetection
from reference_impl.core.actions import Ejected, Returned
from reference_impl.snapshot import Endpoint


def endpoint_key(endpoint: Endpoint) -> tuple[str, str]:
    return (endpoint.service, endpoint.instance)


@dataclass
class _Health:
    consecutive_5xx: int = 0
    consecutive_gateway: int = 0
    ejections: int = 0
    ejected_until: float | None = None
    endpoint: Endpoint | None = None


class OutlierDetector:
    def __init__(self) -> None:
        self._health: dict[tuple[str, str], _Health] = {}
        #: how many endpoints are ejected: while none is, nothing needs a sweep
        self.ejected = 0

    def is_ejected(self, endpoint: Endpoint) -> bool:
        health = self._health.get(endpoint_key(endpoint))
        return health is not None and health.ejected_until is not None

    def ejection_count(self, endpoint: Endpoint) -> int:
        health = self._health.get(endpoint_key(endpoint))
        return 0 if health is None else health.ejections

    def record(
        self,
        endpoint: Endpoint,
        status: int,
        policy: OutlierDetection | None,
        cluster: Sequence[Endpoint],
        now: float,
    ) -> list[Ejected]:
        """Count one result (`status` 503 for a local-origin failure); maybe eject."""
        key = (endpoint.service, endpoint.instance)  # endpoint_key, once a request: inline
        health = self._health.get(key)
        if health is None:  # made once per endpoint, not once per response
            health = self._health[key] = _Health(endpoint=endpoint)
        if status >= 500:
            health.consecutive_5xx += 1
        else:
            health.consecutive_5xx = 0
        if status in GATEWAY_ERRORS:
            health.consecutive_gateway += 1
        else:
            health.consecutive_gateway = 0
        if policy is None or health.ejected_until is not None:
            return []
        if not (
            _reached(health.consecutive_5xx, policy.consecutive_5xx_errors)
            or _reached(health.consecutive_gateway, policy.consecutive_gateway_errors)
        ):
            return []
        ejected = sum(1 for e in cluster if self.is_ejected(e))
        if ejected > 0 and 100 * (ejected + 1) > policy.max_ejection_percent * len(cluster):
            return []
        health.ejections += 1
        health.ejected_until = now + policy.base_ejection_time * health.ejections
        self.ejected += 1
        health.consecutive_5xx = 0
        health.consecutive_gateway = 0
        return [Ejected(endpoint, health.ejected_until, health.ejections)]

    def sweep(self, now: float) -> list[Returned]:
        """Bring back every endpoint whose ejection time is over."""
        out: list[Returned] = []
        if not self.ejected:
            return out
        for health in self._health.values():
            if health.ejected_until is not None and now >= health.ejected_until:
                health.ejected_until = None
                self.ejected -= 1
                assert health.endpoint is not None
                out.append(Returned(health.endpoint))
        return out


def _reached(count: int, threshold: int | None) -> bool:
    return threshold is not None and threshold > 0 and count >= threshold

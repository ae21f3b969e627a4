"""Choosing a backend by weight and an endpoint by round robin.

Both are deterministic given their inputs: the weighted choice takes the random
number from the event, and round robin keeps one counter per cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reference_impl.snapshot import Endpoint


def weighted_choice(weights: Sequence[int], random: float) -> int:
    """Index whose cumulative-weight interval holds `random * total` (random in [0, 1))."""
    total = sum(weights)
    if total <= 0:
        raise ValueError("no positive weight")
    point = min(max(random, 0.0), 1.0) * total
    running = 0
    for index, weight in enumerate(weights):
        running += weight
        if point < running:
            return index
    return max(i for i, w in enumerate(weights) if w > 0)


class RoundRobin:
    """Next endpoint per cluster, skipping ejected and (when possible) already tried ones."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def pick(
        self,
        cluster: str,
        endpoints: Sequence[Endpoint],
        ejected: Callable[[Endpoint], bool],
        tried: frozenset[str] = frozenset(),
    ) -> Endpoint | None:
        if not endpoints:
            return None
        if len(endpoints) == 1:
            # What the general walk below gives for one endpoint, ejected or tried or not.
            self._next[cluster] = 0
            return endpoints[0]
        healthy = [e for e in endpoints if not ejected(e)]
        # Every endpoint ejected: use them all (Envoy's panic mode) rather than fail.
        pool = healthy or list(endpoints)
        fresh = [e for e in pool if e.instance not in tried] or pool
        start = self._next.get(cluster, 0)
        ordered = sorted(endpoints, key=lambda e: e.instance)
        for step in range(len(ordered)):
            candidate = ordered[(start + step) % len(ordered)]
            if candidate in fresh:
                self._next[cluster] = (start + step + 1) % len(ordered)
                return candidate
        return fresh[0]

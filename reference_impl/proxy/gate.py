"""A listener's connection budget: beyond it a new connection is refused and the overflow logged."""

from __future__ import annotations

import logging

from reference_impl.metrics import SidecarMetrics

log = logging.getLogger("meshspec.sidecar")


class Gate:
    """Counts a listener's open connections; refuses (and says so) beyond its limit."""

    def __init__(self, name: str, limit: int, metrics: SidecarMetrics) -> None:
        self.name = name
        self.limit = limit
        self.open = 0
        self._metrics = metrics
        self._full = False

    def enter(self) -> bool:
        if self.open >= self.limit:
            self._metrics.refused_connections.labels(self.name).inc()
            if not self._full:
                self._full = True
                log.warning(
                    "listener %s is full (%d connections): refusing new connections",
                    self.name,
                    self.limit,
                )
            return False
        self.open += 1
        return True

    def leave(self) -> None:
        self.open -= 1
        if self._full and self.open < self.limit:
            self._full = False
            log.warning("listener %s accepts connections again", self.name)

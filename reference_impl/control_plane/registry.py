"""Which instances run where: sidecars register on connect and leave on `bye`.

A stream that breaks without `bye` may be a control-plane hiccup rather than a
dead sidecar, so its endpoint stays for a grace period; reconnecting within it
keeps the endpoint without any change pushed to the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from reference_impl.snapshot import Endpoint

EndpointKey = tuple[str, str]  # (service, instance)


def key_of(endpoint: Endpoint) -> EndpointKey:
    return endpoint.service, endpoint.instance


class EndpointRegistry:
    """Endpoints by (service, instance); calls `on_change` after every real change."""

    def __init__(self, grace: float, on_change: Callable[[], None]) -> None:
        self.grace = grace
        self._on_change = on_change
        self._endpoints: dict[EndpointKey, Endpoint] = {}
        self._expiry: dict[EndpointKey, asyncio.TimerHandle] = {}

    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(self._endpoints[k] for k in sorted(self._endpoints))

    def register(self, endpoint: Endpoint) -> None:
        key = key_of(endpoint)
        timer = self._expiry.pop(key, None)
        if timer is not None:
            timer.cancel()
        if self._endpoints.get(key) != endpoint:
            self._endpoints[key] = endpoint
            self._on_change()

    def deregister(self, endpoint: Endpoint) -> None:
        key = key_of(endpoint)
        timer = self._expiry.pop(key, None)
        if timer is not None:
            timer.cancel()
        if self._endpoints.pop(key, None) is not None:
            self._on_change()

    def lost(self, endpoint: Endpoint) -> None:
        """The stream broke: deregister after the grace period unless it comes back."""
        key = key_of(endpoint)
        if key not in self._endpoints or key in self._expiry:
            return
        loop = asyncio.get_running_loop()
        self._expiry[key] = loop.call_later(self.grace, self._expire, key)

    def _expire(self, key: EndpointKey) -> None:
        self._expiry.pop(key, None)
        if self._endpoints.pop(key, None) is not None:
            self._on_change()

    def close(self) -> None:
        for timer in self._expiry.values():
            timer.cancel()
        self._expiry.clear()

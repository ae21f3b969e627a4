"""A probe as the oracle's (and every model's) request type."""

from __future__ import annotations

from conformance.case import Probe
from meshspec.semantics import Request


def request_of(probe: Probe) -> Request:
    return Request(
        destination=probe.to,
        target=probe.path,
        method=probe.method,
        headers=dict(probe.headers),
        port=probe.port,
        source=probe.from_,
    )

"""The inbound side: requests from the network to the local application.

Each inbound listener serves one service port, so a request's port is where
the client connected, never what its Host header says (a Host naming a
PERMISSIVE port must not open a STRICT one). Checks run in the order a
request meets them, all answered by the oracle: the port's mTLS mode (a
plaintext connection to a STRICT port is refused; a DISABLE port carries no
identity), then target normalisation (400), then
the service's authorization for the peer's SPIFFE ID (403). Only then does
the request reach the application, with the normalised path.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshspec.semantics import (
    NormalizedTarget,
    RejectedTarget,
    authorize,
    choose_port,
    normalize_target,
    port_mode,
)
from meshspec.spec import MtlsMode
from reference_impl.core.config import MAX_PLAN_KEY, MAX_PLANS, Config, load_config
from reference_impl.core.events import Headers, join_headers
from reference_impl.core.keys import split_lines
from reference_impl.snapshot import Snapshot


# One per request: slotted, not frozen (a frozen dataclass's __init__ makes a call per
# field); no one changes it once made.
@dataclass(slots=True)
class InboundRequest:
    """`peer` is the verified SPIFFE ID of an mTLS client, None for plaintext.

    `port` is the service port of the listener the client connected to (None:
    the listener of the service's default port).
    """

    method: str
    target: str
    headers: Headers
    tls: bool
    peer: str | None
    port: int | None = None


@dataclass(frozen=True)
class ForwardToApp:
    """Forward the request to the application at `target` (the normalised path and the
    query); `rule` is the authorization rule that allowed it. The headers are the
    request's own: what reaches the application is the shell's to say."""

    target: str
    rule: str | None


@dataclass(frozen=True)
class Reject:
    """Answer with `status`; status None: close the connection without an answer."""

    status: int | None
    reason: str
    rule: str | None = None


InboundVerdict = ForwardToApp | Reject


class InboundCore:
    """Guards the local application of `service` (`namespace/name`)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.config: Config | None = None

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        self.config = load_config(snapshot, self.service)

    def accepts_plaintext(self, port: int | None = None) -> bool:
        """False when `port` is STRICT: plaintext can be refused before reading a byte."""
        if self.config is None:
            return False
        chosen = self.service_port(port)
        if chosen is None:
            return False
        return port_mode(self.config.spec, self.service, chosen) is not MtlsMode.STRICT

    def service_port(self, port: int | None) -> int | None:
        """The service port a listener serves: `port` if the service has it, else the
        service's first HTTP port when `port` is None; None when the service has no such port.
        """
        if self.config is None:
            return None
        ports = [
            (p.port, str(p.protocol)) for p in self.config.spec.service(self.service).spec.ports
        ]
        if port is not None and all(number != port for number, _ in ports):
            return None
        return choose_port(ports, port)

    def decide(self, request: InboundRequest) -> InboundVerdict:
        """The verdict for `request`; remembered per snapshot under what the rules read
        of it (`keys.py`: method, target, the header lines they name, and the TLS, peer
        and port), when that is at most MAX_PLAN_KEY characters."""
        config = self.config
        if config is None:
            return Reject(503, "sidecar has no configuration yet")
        read, _, size = split_lines(request.headers, config.read_headers)
        if size + len(request.target) > MAX_PLAN_KEY:
            return self._decide(config, request, read)
        key = (request.method, request.target, read, request.tls, request.peer, request.port)
        plans = config.plans
        verdict = plans.get(key)
        if verdict is None:
            verdict = self._decide(config, request, read)
            if len(plans) >= MAX_PLANS:
                plans.clear()
            plans[key] = verdict
        return verdict

    def _decide(self, config: Config, request: InboundRequest, read: Headers) -> InboundVerdict:
        """The oracle's verdict, from the header lines the rules read (`read`) only."""
        spec = config.spec
        port = self.service_port(request.port)
        if port is None:
            return Reject(None, f"service has no port {request.port}")
        mode = port_mode(spec, self.service, port)
        if mode is MtlsMode.STRICT and not request.tls:
            return Reject(None, "STRICT mTLS refuses a plaintext client")
        peer = None if mode is MtlsMode.DISABLE else request.peer
        norm = normalize_target(request.target)
        if isinstance(norm, RejectedTarget):
            return Reject(norm.status, norm.reason)
        headers = join_headers(read)
        verdict = authorize(spec, self.service, peer, request.method, norm, headers)
        if not verdict.allowed:
            return Reject(403, verdict.reason, verdict.rule)
        return ForwardToApp(_target(norm, request.target), verdict.rule)


def _target(norm: NormalizedTarget, raw: str) -> str:
    query = raw.partition("?")[2]
    return norm.path + (f"?{query}" if query else "")

"""The sidecar's sans-I/O core: events in, actions out; no sockets, no clock.

Every policy answer comes from the oracle in `meshspec.semantics`; the core
holds only the mechanics around it: weighted and round-robin choice, retries
and deadlines, connection limits, outlier ejection, snapshot swaps.
"""

from reference_impl.core.actions import (
    CloseConnection,
    Ejected,
    OpenConnection,
    OutboundAction,
    Overflowed,
    Respond,
    Retried,
    Returned,
    SendRequest,
)
from reference_impl.core.balancer import RoundRobin, weighted_choice
from reference_impl.core.config import Config, load_config
from reference_impl.core.events import (
    FailureKind,
    Headers,
    OutboundEvent,
    RequestReceived,
    Tick,
    UpstreamClosed,
    UpstreamConnected,
    UpstreamConnectFailed,
    UpstreamFailed,
    UpstreamResponse,
)
from reference_impl.core.inbound import (
    ForwardToApp,
    InboundCore,
    InboundRequest,
    InboundVerdict,
    Reject,
)
from reference_impl.core.outbound import OutboundCore

__all__ = [
    "CloseConnection",
    "Config",
    "Ejected",
    "FailureKind",
    "ForwardToApp",
    "Headers",
    "InboundCore",
    "InboundRequest",
    "InboundVerdict",
    "OpenConnection",
    "OutboundAction",
    "OutboundCore",
    "OutboundEvent",
    "Overflowed",
    "Reject",
    "RequestReceived",
    "Respond",
    "Retried",
    "Returned",
    "RoundRobin",
    "SendRequest",
    "Tick",
    "UpstreamClosed",
    "UpstreamConnectFailed",
    "UpstreamConnected",
    "UpstreamFailed",
    "UpstreamResponse",
    "load_config",
    "weighted_choice",
]

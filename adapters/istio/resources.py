"""Istio's resources as this adapter knows them: API groups, kinds, constants, and
the fields of each message the importer reads.

Each `Message` is an allow-list: what the importer reads (`read`), what Istio's
schema has and the importer knows it cannot keep (`dropped`: its reader reports
each as dropped), and what has no meaning for the mesh's behaviour (`ignored`,
like a stat prefix). Any other field is not known to the importer and becomes a
finding that names it with its file:line (`unread_fields`), so nothing is lost
silently, also when a later Istio release adds a field.

Fields are those of istio/api `networking/v1alpha3/virtual_service.proto` (Istio
1.30) unless said otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshspec.adapter import Kind

TARGET = "istio"
#: istiod's root namespace: its PeerAuthentications and AuthorizationPolicies without
#: a selector apply mesh-wide (MeshConfig `rootNamespace`, default `istio-system`)
ROOT_NAMESPACE = "istio-system"
NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"
GROUPS = ("networking.istio.io", "security.istio.io")

PEER_AUTHENTICATION = Kind(SECURITY, "PeerAuthentication")
DESTINATION_RULE = Kind(NETWORKING, "DestinationRule")
VIRTUAL_SERVICE = Kind(NETWORKING, "VirtualService")
AUTHORIZATION_POLICY = Kind(SECURITY, "AuthorizationPolicy")
#: What the compiler writes and the importer reads, in apply order: peers' mTLS first,
#: then the client side (DestinationRule) before the routes that name its subsets, then
#: authorization.
KINDS = (PEER_AUTHENTICATION, DESTINATION_RULE, VIRTUAL_SERVICE, AUTHORIZATION_POLICY)

#: Istio's mesh config: ConfigMap `istio` in the root namespace, key `mesh` (istio.io
#: docs/reference/config/istio.mesh.v1alpha1); `trustDomain` names the mesh's identities.
MESH_CONFIG = (ROOT_NAMESPACE, "istio")

#: Istio's retries when a rule sets none: istio/istio
#: `pilot/pkg/networking/core/route/retry/retry.go` `DefaultPolicy`, 2 retries on these
#: conditions; its 503 status code is left out because
#: `EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY` defaults to true (pilot features).
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
DEFAULT_ATTEMPTS = 2


@dataclass(frozen=True)
class Message:
    """The fields of one Istio message, as the importer reads them."""

    name: str
    read: tuple[str, ...]
    dropped: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    def unread(self, value: Any) -> list[str]:
        """The fields of `value` this importer does not know (unset ones aside)."""
        if not isinstance(value, Mapping):
            return []
        known = (*self.read, *self.dropped, *self.ignored)
        return [str(k) for k, v in value.items() if k not in known and v is not None]


VIRTUAL_SERVICE_SPEC = Message(
    "VirtualService",
    read=("hosts", "gateways", "http", "exportTo"),
    dropped=("tcp", "tls"),
)
HTTP_ROUTE = Message(
    "HTTPRoute",
    read=("name", "match", "route", "timeout", "retries", "headers"),
    dropped=(
        "rewrite",
        "redirect",
        "directResponse",
        "delegate",
        "fault",
        "mirror",
        "mirrors",
        "mirrorPercentage",
        "mirrorPercent",
        "corsPolicy",
    ),
    #: the deprecated spelling istio/api still accepts (`mirror_percent`)
    ignored=("mirror_percent",),
)
HTTP_MATCH_REQUEST = Message(
    "HTTPMatchRequest",
    read=("uri", "method", "headers", "queryParams", "ignoreUriCase"),
    dropped=(
        "scheme",
        "authority",
        "withoutHeaders",
        "sourceLabels",
        "sourceNamespace",
        "gateways",
        "port",
    ),
    ignored=("name", "statPrefix"),
)
STRING_MATCH = Message("StringMatch", read=("exact", "prefix", "regex"))
HTTP_ROUTE_DESTINATION = Message("HTTPRouteDestination", read=("destination", "weight", "headers"))
DESTINATION = Message("Destination", read=("host", "subset", "port"))
PORT_SELECTOR = Message("PortSelector", read=("number",))
HTTP_RETRY = Message(
    "HTTPRetry",
    read=("attempts", "perTryTimeout", "retryOn"),
    dropped=("backoff", "retryRemoteLocalities", "retryIgnorePreviousHosts"),
)
HEADERS = Message("Headers", read=("request",), dropped=("response",))
HEADER_OPERATIONS = Message("HeaderOperations", read=("set", "add", "remove"))

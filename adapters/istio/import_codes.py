"""Diagnostic codes of the Istio importer and model (block MS1500-MS1999).

A code keeps its meaning forever; never renumber or reuse one.
"""

from __future__ import annotations

from meshspec.codes import register
from meshspec.diagnostics import Severity

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

UNREADABLE = register("MS1501", E, "Istio object cannot be read")
KIND_SKIPPED = register("MS1502", W, "Istio kind is not imported")
HOST_NOT_SERVICE = register("MS1503", W, "host is not a mesh service")
PORT_INFERRED = register("MS1504", INFO, "service ports inferred")
FIELD_DROPPED = register("MS1505", W, "field has no neutral equivalent")
ORDER_CONFLICT = register("MS1506", W, "first-match order cannot be kept for some requests")
UNREACHABLE_RULE = register("MS1507", INFO, "rule after a catch-all can never match")
DEFAULT_MADE_EXPLICIT = register("MS1508", INFO, "Istio default written explicitly")
GATEWAY_ONLY = register("MS1509", W, "routing for gateways only is not imported")
DUPLICATE_OBJECT = register("MS1510", W, "second object for the same host ignored")
MTLS_NARROWED = register("MS1511", W, "mTLS setting applied to a wider scope", "mtls")
AUTHZ_FAILS_CLOSED = register("MS1512", W, "authorization kept only in a stricter form", "authz")
AUTHZ_WIDENED = register("MS1513", E, "authorization can only be kept in a weaker form", "authz")
CLIENT_TLS = register(
    "MS1514", W, "client-side TLS setting differs from the neutral meaning", "mtls"
)
BAD_VALUE = register("MS1515", E, "value cannot be used")
NAMESPACE_SCOPE = register("MS1516", INFO, "namespace or mesh-wide policy copied to each service")
CLUSTER_UNREACHABLE = register("MS1517", E, "the cluster cannot be read")
IDENTITY_ASSUMED = register("MS1518", E, "service identity assumed, not read", "authz")
SUBSET_UNDEFINED = register("MS1519", E, "route to a subset no DestinationRule defines")
INVALID_OBJECT = register("MS1520", E, "Istio would refuse this object")
MTLS_WEAKENED = register("MS1521", E, "mTLS can only be kept in a weaker form", "mtls")
UNKNOWN_FIELD = register("MS1522", W, "field not known to the importer")
RETRY_CONDITION = register("MS1523", INFO, "retry condition has no neutral name")
GATEWAY_BINDING = register("MS1524", W, "gateway binding of mesh routing dropped")

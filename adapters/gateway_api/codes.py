"""The gateway-api target's diagnostic codes: MS6000-MS6999 (compiler MS6000-MS6499,
importer and model MS6500-MS6999). A code keeps its meaning forever."""

from __future__ import annotations

from meshspec.codes import CodeBlock, register
from meshspec.diagnostics import Severity

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

BLOCK = CodeBlock(6000, 6999)

# compiling
REGEX_PRECEDENCE = register(
    "MS6001", W, "regex path: its precedence and dialect are implementation-specific"
)
RETRIES_EXPERIMENTAL = register(
    "MS6002", W, "retries are in Gateway API's experimental channel only: left out"
)
NO_RESILIENCE = register(
    "MS6003", W, "outlier detection and connection limits have no Gateway API field: left out"
)
MTLS_SETTING = register("MS6004", E, "mTLS setting has no Gateway API field", "mtls")
MTLS_IMPLICIT = register(
    "MS6005", W, "STRICT mTLS is left to the mesh implementation (no Gateway API field)", "mtls"
)
NO_AUTHORIZATION = register("MS6006", E, "authorization has no Gateway API field", "authz")
TOO_MANY_RULES = register(
    "MS6007", W, "more than 16 routes: split over HTTPRoutes ordered by creation time and name"
)
# importing
KIND_SKIPPED = register("MS6501", W, "not a Gateway API HTTPRoute: skipped")
FIELD_DROPPED = register("MS6502", W, "HTTPRoute field not understood: dropped")
PARENT_SKIPPED = register("MS6503", W, "parent is not a Service (not a mesh route): skipped")
UNKNOWN_BACKEND = register("MS6504", W, "backendRef names no Service of the import")
CONSUMER_ROUTE = register(
    "MS6505", W, "consumer route (other namespace than its Service) applies to some clients only"
)
FILTER_DROPPED = register("MS6506", W, "HTTPRoute filter outside the portable subset: dropped")
TIMEOUT_UNSET = register(
    "MS6508", INFO, "no request timeout: the implementation decides; the neutral spec says 15s"
)
INVALID_IMPORT = register("MS6509", E, "the imported services do not form a valid spec")
CLUSTER_UNREADABLE = register("MS6510", E, "the cluster's HTTPRoutes cannot be read")

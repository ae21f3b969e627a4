"""Diagnostic codes of the Istio compiler (block MS1000-MS1499; the importer and model use
MS1500-MS1999). A published code keeps its meaning forever and is never reused.
"""

from __future__ import annotations

from meshspec.codes import register
from meshspec.diagnostics import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

#: Istio's mesh-wide path normalisation decides what authz paths and routes see.
PATH_NORMALIZATION = register(
    "MS1001", I, "needs meshConfig.pathNormalization MERGE_SLASHES or stricter", "authz"
)
AUTHZ_REGEX_PATH = register(
    "MS1010", E, "AuthorizationPolicy paths cannot be regular expressions", "authz"
)
AUTHZ_REGEX_HEADER = register(
    "MS1011", E, "AuthorizationPolicy header conditions cannot be regular expressions", "authz"
)
AUTHZ_WILDCARD_LITERAL = register(
    "MS1012", E, "literal would be read by Istio as a wildcard pattern", "authz"
)
AUTHZ_DENY_HEADER_ELEMENT = register(
    "MS1013",
    E,
    "a DENY header condition holds on any comma-separated element; Istio cannot catch one "
    "in the middle of a listed header value",
    "authz",
)
AUTHZ_ALLOW_HEADER_LINES = register(
    "MS1014",
    E,
    "an ALLOW header condition tests the joined value; Envoy's RBAC holds when any one line "
    "of a repeated header matches",
    "authz",
)
ROUTE_HEADER_LINES = register(
    "MS1015",
    W,
    "a route header condition tests the joined value; Envoy's route matcher takes the route "
    "when any one line of a repeated header matches",
)
HEADER_EDIT_ORDER = register(
    "MS1020", W, "one header both set/added and removed: Envoy applies removals first"
)
BACKEND_PORT = register(
    "MS1030", W, "Istio picks another service's port by the listener port, not the spec's rule"
)

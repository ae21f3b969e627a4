"""App Mesh's diagnostic codes: the block MS4000-MS4999. A code keeps its meaning
forever; one that is no longer emitted is registered `retired=True`."""

from __future__ import annotations

from meshspec.codes import CodeBlock, register
from meshspec.diagnostics import Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO

BLOCK = CodeBlock(4000, 4999)

# reading files (any form)
NOT_READABLE = register("MS4001", E, "App Mesh file could not be read")
TEMPLATE_VARIABLE = register("MS4002", E, "App Mesh file is a template with unfilled variables")
UNRESOLVED = register("MS4003", W, "CloudFormation value could not be resolved")
FIELD_UNKNOWN = register("MS4004", W, "App Mesh field not understood: dropped")
KIND_SKIPPED = register("MS4005", N, "not an App Mesh resource the import reads: skipped")
BAD_VALUE = register("MS4006", E, "App Mesh value of the wrong type or out of range")
DANGLING = register("MS4007", W, "App Mesh reference to a resource that is not in the input")
LIST_ONLY = register("MS4008", N, "list output names resources without their specs")
DUPLICATE = register("MS4009", W, "App Mesh resource given twice: the later one is kept")
NOTHING = register("MS4010", N, "no virtual service or virtual node: nothing to import")
CLUSTER_UNREADABLE = register("MS4012", E, "App Mesh controller resources cannot be read")
CALL_UNANSWERED = register("MS4013", W, "an App Mesh API call was not answered: resources missing")
UNREACHED = register("MS4011", W, "App Mesh router that no virtual service names: not imported")
# importing: routes
PRIORITY_MISSING = register("MS4101", W, "routes without priority: App Mesh's order is unspecified")
ORDER_CHANGED = register(
    "MS4102", W, "App Mesh's first match differs from the neutral most specific match"
)
PREFIX_STRING = register(
    "MS4103", N, "App Mesh string prefix kept as a segment prefix plus a regex"
)
MATCH_DROPPED = register("MS4104", W, "App Mesh route condition has no neutral form: dropped")
TARGET_LOST = register("MS4105", W, "App Mesh route target is not a version of the service")
DEFAULT_RETRIES = register("MS4106", N, "App Mesh's hidden default retry policy made explicit")
RETRY_EVENT = register("MS4107", W, "App Mesh retry event has no neutral form")
TIMEOUT_CAPPED = register("MS4108", N, "the listener timeout of a target caps the route timeout")
NOT_CARRIED = register("MS4109", W, "App Mesh setting outside the neutral spec: not carried")
TCP_ROUTE = register("MS4110", W, "App Mesh TCP route: only its targets are carried")
# importing: security
SAN_NOT_SPIFFE = register("MS4201", E, "listener SAN allow-list is not SPIFFE IDs", "authz")
EGRESS_AUTHZ = register("MS4202", N, "declared backends with DROP_ALL become authorization")
TLS_ONE_WAY = register("MS4203", W, "listener TLS without client validation", "mtls")
CLIENT_TLS = register("MS4204", W, "client policy TLS differs from the server's listener", "mtls")
MTLS_MIXED = register("MS4205", W, "versions of one service differ in listener TLS", "mtls")
# importing: resilience
POOL_SERVER_SIDE = register("MS4301", W, "App Mesh connection pools limit the server side")
OUTLIER_NOTE = register("MS4302", N, "App Mesh outlier detection is applied by the clients")
# compiling
COMPILE_LOST = register("MS4501", W, "App Mesh cannot express this: left out")
COMPILE_AUTHZ = register("MS4502", E, "App Mesh has no request authorization", "authz")
COMPILE_MTLS = register("MS4503", E, "App Mesh cannot keep this mTLS mode", "mtls")
LABELS_ELSEWHERE = register(
    "MS4510", N, "App Mesh's API has no pod labels: a version is found by its DNS name"
)
WEIGHTS_ROUNDED = register(
    "MS4504", W, "weights rounded to integers App Mesh takes (0-100, total 100)"
)
TOO_MANY_TARGETS = register("MS4505", E, "App Mesh routes take at most 10 targets")
COMPILE_MATCH = register("MS4506", E, "App Mesh route condition cannot be expressed")
COMPILE_RETRY = register("MS4507", W, "retry condition App Mesh cannot express")

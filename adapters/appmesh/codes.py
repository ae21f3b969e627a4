"""App Mesh's diagnostic codes: the block MS3000-MS3999. A code keeps its meaning
forever; one that is no longer emitted is registered `retired=True`."""

from __future__ import annotations

from meshspec.codes import CodeBlock, register
from meshspec.diagnostics import Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO

BLOCK = CodeBlock(3000, 3999)

# reading files (any form)
NOT_READABLE = register("MS3001", E, "App Mesh file could not be read")
TEMPLATE_VARIABLE = register("MS3002", E, "App Mesh file is a template with unfilled variables")
UNRESOLVED = register("MS3003", W, "CloudFormation value could not be resolved")
FIELD_UNKNOWN = register("MS3004", W, "App Mesh field not understood: dropped")
KIND_SKIPPED = register("MS3005", N, "not an App Mesh resource the import reads: skipped")
BAD_VALUE = register("MS3006", E, "App Mesh value of the wrong type or out of range")
DANGLING = register("MS3007", W, "App Mesh reference to a resource that is not in the input")
LIST_ONLY = register("MS3008", N, "list output names resources without their specs")
DUPLICATE = register("MS3009", W, "App Mesh resource given twice: the later one is kept")
NOTHING = register("MS3010", N, "no virtual service or virtual node: nothing to import")
CLUSTER_UNREADABLE = register("MS3012", E, "App Mesh controller resources cannot be read")
CALL_UNANSWERED = register("MS3013", W, "an App Mesh API call was not answered: resources missing")
UNREACHED = register("MS3011", W, "App Mesh router that no virtual service names: not imported")
# importing: routes
PRIORITY_MISSING = register("MS3101", W, "routes without priority: App Mesh's order is unspecified")
ORDER_CHANGED = register(
    "MS3102", W, "App Mesh's first match differs from the neutral most specific match"
)
PREFIX_STRING = register(
    "MS3103", N, "App Mesh string prefix kept as a segment prefix plus a regex"
)
MATCH_DROPPED = register("MS3104", W, "App Mesh route condition has no neutral form: dropped")
TARGET_LOST = register("MS3105", W, "App Mesh route target is not a version of the service")
DEFAULT_RETRIES = register("MS3106", N, "App Mesh's hidden default retry policy made explicit")
RETRY_EVENT = register("MS3107", W, "App Mesh retry event has no neutral form")
TIMEOUT_CAPPED = register("MS3108", N, "the listener timeout of a target caps the route timeout")
NOT_CARRIED = register("MS3109", W, "App Mesh setting outside the neutral spec: not carried")
TCP_ROUTE = register("MS3110", W, "App Mesh TCP route: only its targets are carried")
GATEWAY_ROUTE = register("MS3111", W, "App Mesh gateway route: the ingress it gives is not carried")
# importing: security
SAN_NOT_SPIFFE = register("MS3201", E, "listener SAN allow-list is not SPIFFE IDs", "authz")
EGRESS_AUTHZ = register("MS3202", N, "declared backends with DROP_ALL become authorization")
TLS_ONE_WAY = register("MS3203", W, "listener TLS without client validation", "mtls")
CLIENT_TLS = register("MS3204", W, "client policy TLS differs from the server's listener", "mtls")
WIDENED_AUTHZ = register("MS3206", E, "the import lets in a request App Mesh refuses", "authz")
WIDENED_MTLS = register(
    "MS3207", E, "the import accepts a connection App Mesh's TLS refuses", "mtls"
)
MTLS_MIXED = register("MS3205", W, "versions of one service differ in listener TLS", "mtls")
# importing: resilience
POOL_SERVER_SIDE = register("MS3301", W, "App Mesh connection pools limit the server side")
OUTLIER_NOTE = register("MS3302", N, "App Mesh outlier detection is applied by the clients")
# compiling
COMPILE_LOST = register("MS3501", W, "App Mesh cannot express this: left out")
COMPILE_AUTHZ = register("MS3502", E, "App Mesh has no request authorization", "authz")
COMPILE_MTLS = register("MS3503", E, "App Mesh cannot keep this mTLS mode", "mtls")
LABELS_ELSEWHERE = register(
    "MS3510", N, "App Mesh's API has no pod labels: a version is found by its DNS name"
)
WEIGHTS_ROUNDED = register(
    "MS3504", W, "weights rounded to integers App Mesh takes (0-100, total 100)"
)
TOO_MANY_TARGETS = register("MS3505", E, "App Mesh routes take at most 10 targets")
COMPILE_MATCH = register("MS3506", E, "App Mesh route condition cannot be expressed")
COMPILE_RETRY = register("MS3507", W, "retry condition App Mesh cannot express")

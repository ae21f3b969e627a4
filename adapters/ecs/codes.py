"""ECS Service Connect's diagnostic codes: the block MS7000-MS7999. A code keeps its
meaning forever; one that is no longer emitted is registered `retired=True`."""

from __future__ import annotations

from meshspec.codes import CodeBlock, register
from meshspec.diagnostics import Severity

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

BLOCK = CodeBlock(7000, 7999)

# reading files and services (import)
FIELD_DROPPED = register("MS7002", W, "ECS field not understood: dropped")
NOT_A_SERVICE = register("MS7003", INFO, "not an ECS service definition: skipped")
WRONG_TYPE = register("MS7004", E, "ECS value of the wrong type or out of range")
NOT_ENABLED = register("MS7005", INFO, "Service Connect is not enabled for this service: skipped")
NOTHING = register("MS7006", INFO, "no ECS service with Service Connect: nothing to import")
SEVERAL_NAMESPACES = register(
    "MS7007", W, "services in several Service Connect namespaces: each reaches only its own"
)
TIMEOUTS_PER_PORT = register(
    "MS7008", W, "ports of one service differ in timeout: the neutral route takes the largest"
)
IDLE_TIMEOUT = register("MS7009", INFO, "Service Connect idle timeout has no neutral form")
TLS_ONE_WAY = register("MS7010", W, "Service Connect TLS is one-way: imported as STRICT", "mtls")
DUPLICATE = register("MS7011", W, "ECS service given twice: the later one is kept")
NOT_CARRIED = register(
    "MS7012", INFO, "Service Connect setting outside the neutral spec: not carried"
)

# compiling
ROUTING_LOST = register(
    "MS7501", W, "Service Connect has no routes: every request goes to all tasks of the service"
)
SPLIT_LOST = register(
    "MS7502", W, "Service Connect cannot split traffic: versions share the service's tasks"
)
RETRIES_LOST = register(
    "MS7503", W, "Service Connect retries by its own fixed policy: the retry policy is left out"
)
TIMEOUT_MERGED = register(
    "MS7504", W, "Service Connect has one timeout per port: routes with other timeouts differ"
)
TIMEOUT_ROUNDED = register("MS7505", W, "Service Connect timeouts are whole seconds: rounded up")
NO_AUTHORIZATION = register("MS7506", E, "Service Connect has no authorization", "authz")
NO_MUTUAL_TLS = register(
    "MS7507", E, "Service Connect TLS does not check the client: this mTLS mode is not kept", "mtls"
)
RESILIENCE_LOST = register(
    "MS7508", W, "Service Connect's outlier detection and limits have no settings: left out"
)
HEADER_EDITS_LOST = register("MS7509", W, "Service Connect cannot edit request headers")
TLS_AUTHORITY = register(
    "MS7510", INFO, "Service Connect TLS needs an AWS Private CA: fill in its ARN"
)
NAMESPACES_MERGED = register(
    "MS7511", INFO, "one Service Connect namespace for the whole mesh: clients call name.namespace"
)
NAME_TOO_LONG = register("MS7512", E, "name longer than Service Connect allows")

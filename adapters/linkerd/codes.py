"""The linkerd target's diagnostic codes: MS2000-MS2999 (compiler MS2000-MS2499,
importer and model MS2500-MS2999). A code keeps its meaning forever."""

from __future__ import annotations

from meshspec.codes import CodeBlock, register
from meshspec.diagnostics import Severity

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

BLOCK = CodeBlock(2000, 2999)

# compiling
RETRY_CONDITION = register(
    "MS2001", W, "retry condition Linkerd cannot set (connect-failure, reset): not retried"
)
RETRY_BODY_LIMIT = register(
    "MS2002", INFO, "Linkerd never retries a request whose body exceeds 64 KiB"
)
PRECEDENCE = register(
    "MS2003", W, "Linkerd's proxy ranks these matches differently: a request takes another route"
)
BREAKER_FIELD = register(
    "MS2004", W, "outlier setting without a Linkerd equivalent (interval, maxEjectionPercent, ...)"
)
NO_CONNECTION_LIMITS = register("MS2005", W, "connection limits have no Linkerd equivalent")
MTLS_DISABLE = register(
    "MS2006", E, "mTLS DISABLE exists only as skip-inbound-ports: the proxy is bypassed", "mtls"
)
STRICT_IS_403 = register(
    "MS2007", INFO, "STRICT is authorization in Linkerd: plaintext HTTP gets 403, not a refusal"
)
AUTHZ_INEXACT = register(
    "MS2008", E, "authorization cannot be kept exactly in Linkerd's allow-only policy", "authz"
)
ROUTE_ORDER_TIME = register(
    "MS2009", W, "ties between HTTPRoutes go to the oldest: the order depends on creation time"
)
ACCRUAL_BACKOFF = register(
    "MS2010", INFO, "failure accrual: ejections back off from min-penalty to max-penalty"
)
IDENTITY_OUTSIDE = register(
    "MS2011", W, "a client identity outside the spec is denied where the spec would allow it"
)
# importing
KIND_SKIPPED = register(
    "MS2501", W, "not a Linkerd or Gateway API kind the importer reads: skipped"
)
FIELD_DROPPED = register("MS2502", W, "field not understood: dropped")
PARENT_SKIPPED = register("MS2503", W, "route parent is neither a Service nor a Server: skipped")
UNKNOWN_BACKEND = register("MS2504", W, "backendRef names no Service of the import")
CONSUMER_ROUTE = register(
    "MS2505", W, "consumer route (other namespace than its Service) applies to some clients only"
)
FILTER_DROPPED = register("MS2506", W, "HTTPRoute filter Linkerd does not apply to mesh routes")
TIMEOUT_UNSET = register(
    "MS2507", INFO, "no request timeout: Linkerd enforces none, imported as 0s (none)"
)
PROFILE_ORDER = register(
    "MS2508", W, "ServiceProfile routes are first match: a request below takes another route"
)
RETRY_BUDGET = register("MS2509", W, "ServiceProfile retry budget has no neutral equivalent")
PROFILE_WINS = register(
    "MS2510", W, "a ServiceProfile exists: Linkerd ignores HTTPRoute retries and timeouts"
)
AUTHZ_WIDENS = register(
    "MS2511", E, "importing this authorization would allow requests Linkerd denies", "authz"
)
ANNOTATION_DROPPED = register("MS2512", W, "Linkerd annotation not understood: dropped")
INVALID_IMPORT = register("MS2513", E, "the imported services do not form a valid spec")
LEGACY_AUTHZ = register("MS2514", INFO, "legacy ServerAuthorization read as AuthorizationPolicy")
RETRY_DEFAULT_LIMIT = register(
    "MS2515", INFO, "retry annotations without a limit: Linkerd retries once"
)
CLUSTER_UNREADABLE = register("MS2516", E, "the cluster's Linkerd resources cannot be read")
POLICY_UNUSED = register("MS2517", W, "policy for pods no imported Service names: not imported")
IMPORT_PRECEDENCE = register(
    "MS2518", W, "Linkerd's proxy ranks these matches otherwise: the request named differs"
)
PORT_NARROWED = register(
    "MS2519", W, "a port without a Server admits every client: the import denies more there"
)

"""Diagnostic codes of the Consul adapter: the block MS4000-MS4999 (the compiler MS4000-MS4499,
the importer and model MS4500-MS4999). The `consul` and `consul-k8s` targets are one package
and share the block. A published code keeps its meaning forever and is never reused.
"""

from __future__ import annotations

from meshspec.codes import CodeBlock, register
from meshspec.diagnostics import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

BLOCK = CodeBlock(4000, 4999)

# --- compiling: names, protocols, global entries
NAMESPACES_FLATTENED = register(
    "MS4001", W, "Consul CE has one namespace: services of every namespace share it"
)
NAME_CLASH = register("MS4002", E, "two services share a name: Consul CE keys services by name")
MIXED_PROTOCOLS = register(
    "MS4003", W, "a Consul service has one protocol: the service's ports differ"
)
GLOBAL_ENTRIES = register(
    "MS4004",
    I,
    "proxy-defaults and mesh are single mesh-wide entries: writing them replaces the ones in place",
)
# --- compiling: routes
FALL_THROUGH = register(
    "MS4010",
    W,
    "Consul sends a request no route matches to the service itself, where the spec answers 404",
)
ROUTE_HEADER_LINES = register(
    "MS4011",
    W,
    "a route header condition tests the joined value; Envoy takes the route when any one line "
    "of a repeated header matches",
)
HEADER_EDIT_ORDER = register(
    "MS4012", W, "one header both set/added and removed: Envoy applies removals first"
)
PER_TRY_TIMEOUT = register("MS4013", W, "Consul has no per-try timeout: it is left out")
SPLIT_ROUNDED = register(
    "MS4014", W, "Consul split weights are percentages with two decimals: shares rounded"
)
PREFIX_REWRITE = register(
    "MS4015",
    I,
    "Consul 1.22.x before the fix of hashicorp/consul#23339 strips a PathPrefix with no "
    "PrefixRewrite: PrefixRewrite written equal to the prefix",
)
ROUTES_ON_TCP = register(
    "MS4016", W, "routes on a TCP service: Consul routes and splits only HTTP, HTTP/2 and gRPC"
)
ROUTING_RAW_PATH = register(
    "MS4018",
    W,
    "Consul routes on the path as sent: the caller's sidecar does not normalise it, only the "
    "destination's does (before intentions)",
)
META_KEY_RENAMED = register(
    "MS4019",
    I,
    "Consul service meta keys hold letters, digits, - and _ only: a version label is "
    "registered under its key with other characters as _",
)
# --- compiling: mTLS
MTLS_DISABLE = register(
    "MS4020",
    E,
    "Consul cannot disable mTLS between sidecars: peers keep their identity where the spec "
    "makes them unauthenticated",
    "mtls",
)
MTLS_PER_PORT = register(
    "MS4021",
    W,
    "Consul has no per-port mTLS mode: the strictest mode of the ports is written",
    "mtls",
)
MTLS_PERMISSIVE = register(
    "MS4022",
    W,
    "PERMISSIVE mTLS works only with transparent proxy and mesh "
    "AllowEnablingPermissiveMutualTLS; without them Consul stays strict",
    "mtls",
)
PERMISSIVE_SKIPS_INTENTIONS = register(
    "MS4023",
    E,
    "Consul does not apply intentions to plaintext requests of a PERMISSIVE service",
    "authz",
)
# --- compiling: authorization
AUTHZ_ALLOW_HEADER_LINES = register(
    "MS4030",
    E,
    "an ALLOW header condition tests the joined value; Envoy's RBAC holds when any one line of "
    "a repeated header matches",
    "authz",
)
AUTHZ_DENY_REGEX_ELEMENT = register(
    "MS4031",
    E,
    "a DENY header regex holds on any comma-separated element; Consul tests whole lines",
    "authz",
)
NO_PLAINTEXT_SOURCE = register(
    "MS4032",
    W,
    "Consul intentions have no source for plaintext peers: an 'unauthenticated' source is left out",
    "authz",
)
IDENTITY_NOT_A_SERVICE = register(
    "MS4033",
    E,
    "an identity source names no service of the spec: Consul intentions name services",
    "authz",
)
IDENTITY_ALLOW_NARROWED = register(
    "MS4037",
    W,
    "an ALLOW identity source names no service of the spec: left out (narrower access)",
    "authz",
)
NAMESPACE_EXPANDED = register(
    "MS4034",
    W,
    "a namespace source is written as the spec's services of that namespace",
    "authz",
)
DEFAULT_POLICY = register(
    "MS4035",
    I,
    "a service without authorization is open only where the agents' acl.default_policy is allow",
    "authz",
)
L7_ON_TCP = register(
    "MS4036",
    W,
    "Consul allows L7 permissions only on HTTP services: a rule on paths, methods or headers "
    "of a TCP service is left out",
    "authz",
)
NAMES_TOO_LONG = register(
    "MS4017",
    W,
    "the spec's route and rule names do not fit in the entry's Meta (Consul allows 64 values of "
    "512 characters): they are not kept, and an import names them by position",
)
# --- compiling: resilience
GATEWAY_ERRORS = register(
    "MS4040", W, "Consul's passive health check has no consecutive gateway errors: left out"
)
PER_VERSION_RESILIENCE = register(
    "MS4041",
    W,
    "Consul keys upstream limits and health checks by service, not subset: the service's are "
    "written",
)
REQUESTS_PER_CONNECTION = register(
    "MS4042", W, "Consul has no limit of requests per connection: left out"
)
ROUTED_RESILIENCE = register(
    "MS4043",
    W,
    "Consul applies the caller's settings for the addressed service to every backend its "
    "routes reach: a backend of another service gets the addressed service's",
)
# --- importing
KIND_SKIPPED = register("MS4501", W, "not a Consul config entry this importer reads: skipped")
FIELD_DROPPED = register("MS4502", W, "Consul field with no neutral equivalent: dropped")
ORDER_CHANGED = register(
    "MS4503", W, "Consul's first match differs from the most specific match for some requests"
)
ACCESS_WIDENED = register(
    "MS4504",
    E,
    "the imported spec allows a request Consul denies",
    "authz",
)
ACCESS_NARROWED = register("MS4505", W, "the imported spec denies a request Consul allows", "authz")
CALLER_KEYED = register(
    "MS4506",
    W,
    "callers set different upstream limits or health checks for one service: the spec keys "
    "them by the service",
)
FILTER_UNREAD = register(
    "MS4507", W, "a resolver subset filter other than Service.Meta equalities: version guessed"
)
NORMALISATION_DIFFERS = register(
    "MS4508",
    W,
    "mesh request normalisation weaker than the spec's: routes and rules see other paths",
)
MTLS_WIDENED = register(
    "MS4509",
    E,
    "permissive mTLS is imported as PERMISSIVE, which accepts plaintext where this Consul does not",
    "mtls",
)
FALLS_THROUGH = register(
    "MS4510", I, "Consul's fall-through to the service is written as a final catch-all route"
)
UNREACHABLE = register(
    "MS4511", E, "the live source (Consul agent or Kubernetes API server) cannot be read"
)

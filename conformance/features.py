"""The feature vocabulary shared by cases, targets and adapters, and the profiles.

Adapters declare the features their model answers for with these exact
strings; a case needs a set of them; a target that lacks one reports the
case as not supported, naming what is missing.
"""

from __future__ import annotations

from enum import StrEnum


class Feature(StrEnum):
    ROUTING_PATH_EXACT = "routing.path.exact"
    ROUTING_PATH_PREFIX = "routing.path.prefix"
    ROUTING_PATH_REGEX = "routing.path.regex"
    ROUTING_HEADERS = "routing.headers"
    ROUTING_QUERY = "routing.query"
    ROUTING_METHOD = "routing.method"
    SPLIT_WEIGHTS = "split.weights"
    SPLIT_VERSIONS = "split.versions"
    TIMEOUTS_REQUEST = "timeouts.request"
    RETRIES = "retries"
    RETRIES_PER_TRY_TIMEOUT = "retries.per_try_timeout"
    RETRIES_STATUS_CODES = "retries.status_codes"
    MTLS_STRICT = "mtls.strict"
    MTLS_PERMISSIVE = "mtls.permissive"
    MTLS_DISABLE = "mtls.disable"
    MTLS_PORT = "mtls.port"
    AUTHZ_ALLOW = "authz.allow"
    AUTHZ_DENY = "authz.deny"
    AUTHZ_DEFAULT_DENY = "authz.default_deny"
    AUTHZ_L7 = "authz.l7"
    RESILIENCE_OUTLIER = "resilience.outlier"
    RESILIENCE_CONNECTION_LIMITS = "resilience.connection_limits"
    HEADERS_REQUEST_EDITS = "headers.request_edits"
    PATHS_NORMALIZATION = "paths.normalization"


ALL_FEATURES: frozenset[str] = frozenset(str(f) for f in Feature)


class Profile(StrEnum):
    """A group of cases a target is scored on as a whole (one row of the matrix)."""

    ROUTING = "routing"
    TRAFFIC_SPLIT = "traffic-split"
    RETRIES_TIMEOUTS = "retries-timeouts"
    MTLS = "mtls"
    AUTHORIZATION = "authorization"
    RESILIENCE = "resilience"
    PATH_NORMALIZATION = "path-normalization"

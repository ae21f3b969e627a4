"""The feature vocabulary: what a target can do as the spec means it.

Every adapter divides the whole vocabulary in two: the features its model
answers for, and the ones its mesh cannot have, each with the reason (the
contract test checks the division is exact). A conformance case needs a set
of features; a target that lacks one reports the case as not supported,
naming the feature and the adapter's reason.
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
    #: a service with routes answers 404 to a request none of them matches
    ROUTING_NO_MATCH_404 = "routing.no_match_404"
    #: routes see the normalised path, the same one authorization sees
    ROUTING_NORMALIZED_PATH = "routing.normalized_path"
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
    #: a version's resilience replaces the service's for that version's endpoints
    RESILIENCE_PER_VERSION = "resilience.per_version"
    HEADERS_REQUEST_EDITS = "headers.request_edits"
    #: whitespace around a header value is not part of it (RFC 9110 §5.5)
    HEADERS_WHITESPACE = "headers.whitespace"
    #: a header sent several times is matched as its values joined with `,`
    HEADERS_REPEATED = "headers.repeated"
    #: a DENY header condition also holds on any comma-separated element of the value
    AUTHZ_DENY_HEADER_ELEMENTS = "authz.deny_header_elements"
    #: dot segments (`.`, `..`, also when escaped as %2e) are removed, never above the root
    PATHS_DOT_SEGMENTS = "paths.dot_segments"
    #: escapes of unreserved characters (%61 is `a`) are decoded before matching
    PATHS_DECODE_UNRESERVED = "paths.decode_unreserved"
    #: a backslash inside the path reads as `/`
    PATHS_BACKSLASH = "paths.backslash"
    #: runs of `/` are merged before matching
    PATHS_MERGE_SLASHES = "paths.merge_slashes"
    #: a request target that does not start with `/` is refused with 400
    PATHS_REJECT_RELATIVE = "paths.reject_relative"
    #: `%00` is refused with 400
    PATHS_REJECT_NUL = "paths.reject_nul"
    #: encoded slashes and backslashes (`%2F`, `%5C`) are refused with 400
    PATHS_REJECT_ENCODED_SLASH = "paths.reject_encoded_slash"
    #: a request target with a `#fragment` is refused with 400
    PATHS_REJECT_FRAGMENT = "paths.reject_fragment"
    #: a malformed percent-escape (`%zz`) is refused with 400
    PATHS_REJECT_MALFORMED_ESCAPE = "paths.reject_malformed_escape"
    #: host names compare case-insensitively, a trailing dot ignored
    HOSTS_NORMALIZATION = "hosts.normalization"


ALL_FEATURES: frozenset[Feature] = frozenset(Feature)

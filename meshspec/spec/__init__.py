"""The neutral mesh spec's models (apiVersion meshspec.io/v1alpha1)."""

from meshspec.spec.authz import (
    Authorization,
    AuthzAction,
    AuthzRule,
    DefaultAction,
    Operation,
    Source,
)
from meshspec.spec.bundle import Origin, Spec, parse_spiffe_id, service_key, spiffe_id
from meshspec.spec.document import (
    API_VERSION,
    KINDS,
    Document,
    MeshDocument,
    MeshSpec,
    Metadata,
    ServiceDocument,
)
from meshspec.spec.matches import (
    HeaderMatch,
    PathMatch,
    PathMatchType,
    QueryParamMatch,
    StringMatchType,
)
from meshspec.spec.mtls import MeshMtls, MtlsMode, ServiceMtls
from meshspec.spec.resilience import ConnectionLimits, OutlierDetection, Resilience
from meshspec.spec.routes import (
    DEFAULT_RETRY_ON,
    Backend,
    HeaderEdits,
    Retries,
    RetryOn,
    Route,
    RouteMatch,
)
from meshspec.spec.service import Port, Protocol, ServiceSpec, Version

__all__ = [
    "API_VERSION",
    "DEFAULT_RETRY_ON",
    "KINDS",
    "Authorization",
    "AuthzAction",
    "AuthzRule",
    "Backend",
    "ConnectionLimits",
    "DefaultAction",
    "Document",
    "HeaderEdits",
    "HeaderMatch",
    "MeshDocument",
    "MeshMtls",
    "MeshSpec",
    "Metadata",
    "MtlsMode",
    "Operation",
    "Origin",
    "OutlierDetection",
    "PathMatch",
    "PathMatchType",
    "Port",
    "Protocol",
    "QueryParamMatch",
    "Resilience",
    "Retries",
    "RetryOn",
    "Route",
    "RouteMatch",
    "ServiceDocument",
    "ServiceMtls",
    "ServiceSpec",
    "Source",
    "Spec",
    "StringMatchType",
    "Version",
    "parse_spiffe_id",
    "service_key",
    "spiffe_id",
]

"""The vpc-lattice target's diagnostic codes: MS5000-MS5999 (compiler MS5000-MS5499,
import MS5500-MS5999). A code keeps its meaning forever; one that is no longer emitted
is registered `retired=True`."""

from __future__ import annotations

from meshspec.codes import CodeBlock, register
from meshspec.diagnostics import Severity

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

BLOCK = CodeBlock(5000, 5999)

# compiling: security
MTLS_LOST = register(
    "MS5001", E, "mTLS mode has no VPC Lattice form (TLS to the service network, SigV4)", "mtls"
)
AUTHZ_L7 = register(
    "MS5002", E, "authorization condition beyond IAM auth principals: rule not kept", "authz"
)
AUTHZ_IDENTITY = register(
    "MS5003", E, "SPIFFE identity has no IAM principal form: rule not kept", "authz"
)
AUTHZ_DIRECT = register(
    "MS5004",
    E,
    "IAM auth checks service-network traffic only: direct pod traffic unchecked",
    "authz",
)
AUTHZ_BACKEND = register(
    "MS5006",
    E,
    "a route's backend service has authorization: VPC Lattice checks the addressed service's only",
    "authz",
)
AUTHZ_NO_PEER = register(
    "MS5007",
    E,
    "without mTLS the spec names no peer, but VPC Lattice identifies signed callers",
    "authz",
)
SIGV4_REQUIRED = register(
    "MS5005", INFO, "IAM auth: clients must sign requests (SigV4) with EKS Pod Identity"
)
# compiling: traffic
MATCH_LOST = register("MS5101", W, "route match has no VPC Lattice form: match left out")
ROUTE_UNREACHABLE = register("MS5102", W, "every match of a route left out: route not written")
RETRIES_LOST = register("MS5103", W, "VPC Lattice has no retry setting: retries left out")
TIMEOUT_LOST = register(
    "MS5104", W, "VPC Lattice has no per-route request timeout: timeout left out"
)
RESILIENCE_LOST = register(
    "MS5105", W, "outlier detection and connection limits have no VPC Lattice form: left out"
)
HEADER_EDITS_LOST = register("MS5106", W, "request header edits have no VPC Lattice form")
TOO_MANY_RULES = register("MS5107", W, "more than 100 listener rules: the rest left out")
WEIGHTS_SCALED = register("MS5108", W, "backend weights above 999 scaled to VPC Lattice's range")
HEADER_CASE = register(
    "MS5109", W, "VPC Lattice compares header values case-insensitively (exact match)"
)
PROTOCOL_MIXED = register(
    "MS5110", W, "one Service with HTTP/1 and HTTP/2 ports: one target group protocol"
)
TCP_PORT = register("MS5111", W, "TCP port: VPC Lattice routes HTTP here (TLSRoute not written)")
NAME_OVERRIDE = register(
    "MS5112", INFO, "VPC Lattice service name set explicitly: the default names would collide"
)
# import
NO_IMPORTER = register("MS5501", E, "the vpc-lattice target has no importer")

"""Ferry's diagnostic codes: the block MS9000-MS9999, kept for examples and tests
(no shipped adapter gets it). A code keeps its meaning forever."""

from __future__ import annotations

from meshspec.codes import CodeBlock, register
from meshspec.diagnostics import Severity

E, W = Severity.ERROR, Severity.WARNING

BLOCK = CodeBlock(9000, 9999)

# compiling
MATCH_DROPPED = register("MS9001", W, "Ferry matches paths only: a match condition is dropped")
NOT_EXPRESSIBLE = register("MS9002", W, "Ferry has no such setting: it is left out")
NO_AUTHORIZATION = register("MS9010", E, "Ferry has no authorization", "authz")
MTLS_ALWAYS_ON = register("MS9011", E, "Ferry always requires mTLS", "mtls")
# importing
KIND_SKIPPED = register("MS9501", W, "not a Ferry kind: skipped")
FIELD_DROPPED = register("MS9502", W, "Ferry field not understood: dropped")
ORDER_CHANGED = register("MS9503", W, "Ferry's first match differs from the most specific match")

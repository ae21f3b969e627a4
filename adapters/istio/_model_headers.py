"""The request headers a destination receives after a VirtualService rule's edits.

istio/api `networking/v1alpha3/virtual_service.proto`, `Headers.HeaderOperations`:
`set` overwrites, `add` appends, `remove` deletes. Istio hands them to Envoy as
`request_headers_to_add` (set entries, then add entries) and
`request_headers_to_remove`; Envoy's header parser removes first, then adds
("remove-before-add", `HeaderParser::evaluateHeaders`), so a header both set and
removed is set. A header added where one exists is sent twice, which HTTP reads
as one comma-joined value (RFC 9110 §5.3). Names compare case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def edited_headers(headers: Mapping[str, str], rule: Mapping[str, Any] | None) -> dict[str, str]:
    out = {k.lower(): v for k, v in headers.items()}
    ops = ((rule or {}).get("headers") or {}).get("request") or {}
    for name in ops.get("remove") or ():
        out.pop(str(name).lower(), None)
    for name, value in (ops.get("set") or {}).items():
        out[str(name).lower()] = str(value)
    for name, value in (ops.get("add") or {}).items():
        key = str(name).lower()
        out[key] = f"{out[key]},{value}" if key in out else str(value)
    return out

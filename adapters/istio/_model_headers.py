"""How Envoy reads request headers, and what a destination receives after a rule's edits.

Reading is Envoy's (`adapters.kit.envoy.header_values` and `header_lines`): each
line trimmed as the HTTP/1 codec does; the joined value is what the destination
application reads (RFC 9110 §5.3).

Matching reads lines: both the route matcher and the RBAC filter of a real
Envoy (1.40, the version the tests run) match a header condition against each
line of the header separately, and hold when any line matches
(`adapters.kit.envoy.header_lines`): with lines
`0`, `1`, `2` an exact `1` holds and a prefix `1,` does not; with the one line
`0,1,2` neither does. tests/adapters/istio/test_deny_header_elements.py (RBAC)
and tests/realservers/test_istio_live_differential.py (routes) send such
requests to a real Envoy and compare its answers with this model.

Editing (`edited_headers`):

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

from adapters.kit import envoy

HeaderLines = envoy.HeaderLines


def edited_lines(lines: HeaderLines, rule: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    """`edited_headers` for lines: `set` leaves one line, `add` appends one."""
    out = {k.lower(): v for k, v in lines.items()}
    ops = ((rule or {}).get("headers") or {}).get("request") or {}
    for name in ops.get("remove") or ():
        out.pop(str(name).lower(), None)
    for name, value in (ops.get("set") or {}).items():
        out[str(name).lower()] = (str(value),)
    for name, value in (ops.get("add") or {}).items():
        key = str(name).lower()
        out[key] = (*out.get(key, ()), str(value))
    return out


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

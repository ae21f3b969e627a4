"""How Envoy reads request headers, and what a destination receives after a rule's edits.

Reading (`envoy_header_values`): Envoy's HTTP/1 codec drops a value's leading
whitespace as it arrives (`ConnectionImpl::onHeaderValue`, `StringUtil::ltrim`)
and its trailing whitespace when the line is complete (`completeLastHeader`,
`current_header_value_.rtrim()`), envoyproxy/envoy
source/common/http/http1/codec_impl.cc. `envoy_header_values` joins a name's
lines with `,` (as the destination application reads them, RFC 9110 §5.3).

Matching reads lines: both the route matcher and the RBAC filter of a real
Envoy (1.40, the version the tests run) match a header condition against each
line of the header separately, and hold when any line matches
(`envoy_header_lines`): with lines
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

from collections.abc import Mapping, Sequence
from typing import Any

_ENVOY_TRIMS = " \t"


def envoy_header_values(headers: Mapping[str, str | Sequence[str]]) -> dict[str, str]:
    """Lower-case names to the string Envoy matches: each line trimmed, lines joined with ','.

    A sequence of values is the header sent once per value, in order.
    """
    out: dict[str, str] = {}
    for name, value in headers.items():
        lines = [value] if isinstance(value, str) else list(value)
        for line in lines:
            key = name.lower()
            trimmed = line.strip(_ENVOY_TRIMS)
            out[key] = f"{out[key]},{trimmed}" if key in out else trimmed
    return out


HeaderLines = Mapping[str, tuple[str, ...]]


def envoy_header_lines(headers: Mapping[str, str | Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Lower-case names to the lines Envoy keeps, each trimmed, in order."""
    out: dict[str, tuple[str, ...]] = {}
    for name, value in headers.items():
        lines = [value] if isinstance(value, str) else list(value)
        key = name.lower()
        out[key] = out.get(key, ()) + tuple(line.strip(_ENVOY_TRIMS) for line in lines)
    return out


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

"""How a Consul sidecar's Envoy reads a request target before routing and RBAC see it.

Consul writes the inbound and outbound HTTP connection managers from mesh
`HTTP.Incoming.RequestNormalization` (Consul 1.20.1+; mesh reference page, "Request
normalization"): `normalize_path` unless `InsecureDisablePathNormalization`, `merge_slashes`
when `MergeSlashes`, and `path_with_escaped_slashes_action`. What Envoy then does
(envoy `api/envoy/extensions/filters/network/http_connection_manager/v3/
http_connection_manager.proto`, fields `normalize_path`, `merge_slashes`,
`path_with_escaped_slashes_action`; `source/common/http/path_utility.cc`):

* a `#fragment` is refused with 400 (runtime `http_reject_path_with_fragment`, on by default);
* `REJECT_REQUEST` answers 400 to `%2F`/`%5C` in any case; `UNESCAPE_AND_*` decodes them;
* `normalize_path` (RFC 3986 through the Chromium URL canonicaliser): escapes of unreserved
  characters decoded, other escapes upper-cased, a malformed escape kept as written, a
  backslash read as `/`, dot segments removed; an escaped NUL fails it (400);
* `merge_slashes` then collapses runs of `/`;
* a target that does not start with `/` is refused with 400 by the codec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = set("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Normalisation:
    normalize: bool = True
    merge_slashes: bool = False
    escaped_slashes: str = "KEEP_UNCHANGED"

    @classmethod
    def of(cls, mesh: Mapping[str, Any] | None) -> Normalisation:
        rn: Any = (((mesh or {}).get("HTTP") or {}).get("Incoming") or {}).get(
            "RequestNormalization"
        ) or {}
        return cls(
            normalize=not rn.get("InsecureDisablePathNormalization", False),
            merge_slashes=bool(rn.get("MergeSlashes", False)),
            escaped_slashes=str(rn.get("PathWithEscapedSlashesAction") or "KEEP_UNCHANGED"),
        )


@dataclass(frozen=True)
class Target:
    path: str
    query: str


def read_target(raw: str, norm: Normalisation) -> Target | None:
    """The path and query Envoy routes on, or None where it answers 400."""
    if "#" in raw:
        return None
    path, _, query = raw.partition("?")
    if not path.startswith("/"):
        return None
    lowered = path.lower()
    if norm.escaped_slashes == "REJECT_REQUEST" and ("%2f" in lowered or "%5c" in lowered):
        return None
    if norm.escaped_slashes.startswith("UNESCAPE"):
        path = _unescape_slashes(path)
    if norm.normalize:
        canonical = _canonical(path)
        if canonical is None:
            return None
        path = canonical
    if norm.merge_slashes:
        while "//" in path:
            path = path.replace("//", "/")
    return Target(path, query)


def _unescape_slashes(path: str) -> str:
    out = []
    i = 0
    while i < len(path):
        chunk = path[i : i + 3].lower()
        if chunk in ("%2f", "%5c"):
            out.append("/" if chunk == "%2f" else "\\")
            i += 3
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def _canonical(path: str) -> str | None:
    decoded = []
    i = 0
    while i < len(path):
        c = path[i]
        if c == "%" and i + 2 < len(path) and set(path[i + 1 : i + 3]) <= _HEX:
            byte = chr(int(path[i + 1 : i + 3], 16))
            if byte == "\0":
                return None
            decoded.append(byte if byte in _UNRESERVED else "%" + path[i + 1 : i + 3].upper())
            i += 3
            continue
        decoded.append("/" if c == "\\" else c)
        i += 1
    return _remove_dots("".join(decoded))


def _remove_dots(path: str) -> str:
    """RFC 3986 §5.2.4 on segments, never above the root."""
    out: list[str] = []
    segments = path.split("/")[1:]
    for j, seg in enumerate(segments):
        last = j == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
            continue
        if seg == "..":
            if out:
                out.pop()
            if last:
                out.append("")
            continue
        out.append(seg)
    return "/" + "/".join(out)


def query_value(query: str, name: str) -> str | None:
    """The first value of a query parameter, as Envoy's query matcher reads it (undecoded)."""
    for part in query.split("&") if query else ():
        key, eq, value = part.partition("=")
        if key == name:
            return value if eq else ""
    return None

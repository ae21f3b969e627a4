"""How the Envoys of a Consul mesh read a request target, on each side.

The caller's sidecar routes on the target as sent: Consul configures no path normalisation on
outbound listeners (consul `agent/xds/listeners_test.go`, case
`connect-proxy-with-mesh-config-request-normalization-all-envoy-options-enabled`: "outbound
HTTP listener ... normalization is not applied"), and Envoy's own defaults leave
`normalize_path` and `merge_slashes` off (envoy `http_connection_manager.proto`). Only a
`#fragment` is refused there with 400 (runtime `http_reject_path_with_fragment`, on by default),
as is a target that does not start with `/`.

The destination's sidecar normalises before its intentions (mesh
`HTTP.Incoming.RequestNormalization`, Consul 1.20.1+; mesh reference page): `normalize_path`
unless `InsecureDisablePathNormalization`, `merge_slashes` when `MergeSlashes`, and
`path_with_escaped_slashes_action`. What Envoy then does (envoy
`source/common/http/path_utility.cc`, `http_connection_manager.proto`):

* `REJECT_REQUEST` answers 400 to `%2F`/`%5C` in any case; `UNESCAPE_AND_*` decodes them;
* `normalize_path` (RFC 3986 through the Chromium URL canonicaliser): escapes of unreserved
  characters decoded, other escapes upper-cased, a malformed escape kept as written, a
  backslash read as `/`, dot segments removed; an escaped NUL fails it (400);
* `merge_slashes` then collapses runs of `/`.
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


def as_sent(raw: str) -> Target | None:
    """The path and query the caller's sidecar routes on, or None where it answers 400."""
    if "#" in raw:
        return None
    path, _, query = raw.partition("?")
    if not path.startswith("/"):
        return None
    return Target(path, query)


def read_target(raw: str, norm: Normalisation) -> Target | None:
    """The path and query the destination's sidecar checks and forwards, or None (400)."""
    sent = as_sent(raw)
    if sent is None:
        return None
    path, query = sent.path, sent.query
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

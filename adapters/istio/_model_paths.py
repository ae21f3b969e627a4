"""How a default Istio sidecar rewrites the request path before routing and authorization.

Istio's MeshConfig `pathNormalization.normalization` (istio/api
`mesh/v1alpha1/config.proto`; istio.io docs/reference/config/security/normalization)
picks the Envoy settings applied on every listener:

* NONE: nothing is changed;
* BASE (the DEFAULT): Envoy `normalize_path` (RFC 3986 dot-segment removal, `\\` -> `/`,
  escapes of unreserved characters decoded); `%2F` and `%5C` stay as written and runs
  of `/` are not merged;
* MERGE_SLASHES: BASE, then Envoy `merge_slashes`;
* DECODE_AND_MERGE_SLASHES: `%2F`/`%5C` are unescaped first
  (`path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD`), then as MERGE_SLASHES.

Envoy's order (`ConnectionManagerUtility::maybeNormalizePath`) is unescape slashes,
then normalise, then merge, so `/a//../b` becomes `/a/b`, not `/b`. Istio's bootstrap
turns Envoy's fragment rejection off and strips `#...` instead (peers.md §4.1,
`http_reject_path_with_fragment: false`). `%00` is always rejected with 400
(normalization page). A request target must start with `/`: Envoy's HTTP/1 codecs
refuse anything else (`\\admin` included) with 400 `HPE_INVALID_URL` (http-parser's URL
state machine; Balsa's `isUrlValid` keeps that behaviour), before any normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")


class PathNormalization(StrEnum):
    NONE = "NONE"
    BASE = "BASE"
    MERGE_SLASHES = "MERGE_SLASHES"
    DECODE_AND_MERGE_SLASHES = "DECODE_AND_MERGE_SLASHES"


@dataclass(frozen=True)
class IstioTarget:
    """The path routes and policies see, and the parsed query."""

    path: str
    query: tuple[tuple[str, str], ...]

    def query_value(self, name: str) -> str | None:
        # Envoy reads the first value of a repeated parameter (QueryParamsMulti::getFirstValue).
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class BadTarget:
    reason: str


def normalize(target: str, mode: PathNormalization) -> IstioTarget | BadTarget:
    without_fragment = target.split("#", 1)[0]
    raw_path, _, raw_query = without_fragment.partition("?")
    if "%00" in raw_path or "\x00" in raw_path:
        return BadTarget("path contains NUL (%00), which Istio always rejects")
    if not raw_path.startswith("/"):
        return BadTarget("request target must start with '/' (HPE_INVALID_URL)")
    path = raw_path
    if mode is PathNormalization.DECODE_AND_MERGE_SLASHES:
        path = _unescape_slashes(path)
    if mode is not PathNormalization.NONE:
        path = _canonical(path)
    if mode in (PathNormalization.MERGE_SLASHES, PathNormalization.DECODE_AND_MERGE_SLASHES):
        while "//" in path:
            path = path.replace("//", "/")
    return IstioTarget(path, _parse_query(raw_query))


def _unescape_slashes(path: str) -> str:
    for escaped, plain in (("%2F", "/"), ("%2f", "/"), ("%5C", "\\"), ("%5c", "\\")):
        path = path.replace(escaped, plain)
    return path


def _canonical(path: str) -> str:
    """Envoy `normalize_path`: decode unreserved escapes, `\\` -> `/`, remove dot segments."""
    out: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        pair = path[i + 1 : i + 3]
        if ch == "%" and len(pair) == 2 and set(pair) <= _HEX:
            decoded = chr(int(pair, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + pair.upper())
            i += 3
            continue
        out.append("/" if ch == "\\" else ch)
        i += 1
    return _remove_dot_segments("".join(out))


def _remove_dot_segments(path: str) -> str:
    segments = path.split("/")[1:]
    kept: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment in (".", ".."):
            if segment == ".." and kept:
                kept.pop()
            if last:
                kept.append("")
            continue
        kept.append(segment)
    return "/" + "/".join(kept)


def _parse_query(raw: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&") if raw else ():
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return tuple(pairs)

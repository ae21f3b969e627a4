"""Request-target normalisation, defined once for routing and authorization.

A request target is normalised before any route or rule looks at it:

1. a fragment (`#`) is rejected (400): clients never send one, and a proxy
   that strips it while another keeps it is how CVE-2021-39156 happened;
2. the query (after `?`) is split off and parsed;
3. the path must start with `/` (HTTP parsers refuse anything else, a
   leading backslash included);
4. percent-escapes are checked: malformed ones, `%00`, and encoded slashes
   or backslashes (`%2F`, `%5C`) are rejected (400); escapes of unreserved
   characters are decoded; all others are kept, in upper case;
5. a backslash is read as `/`;
6. dot segments are removed (RFC 3986 §5.2.4), never climbing above `/`;
7. runs of `/` are merged into one.

Dot segments go before slashes are merged, in the order Envoy applies its
`normalize_path` and `merge_slashes`, so `/a//../b` is `/a/b` here and in
every Envoy-based mesh.

Hosts compare case-insensitively, without port or trailing dot.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class NormalizedTarget:
    path: str
    query: tuple[tuple[str, str], ...] = ()

    def query_value(self, name: str) -> str | None:
        """First value of `name`, as Envoy and Gateway API read repeated parameters."""
        for k, v in self.query:
            if k == name:
                return v
        return None


@dataclass(frozen=True)
class RejectedTarget:
    reason: str
    status: int = 400


#: targets longer than this are normalised every time, never remembered, so the
#: cache holds at most 4096 entries of at most 1 KiB each
_CACHEABLE = 1024


def normalize_target(target: str) -> NormalizedTarget | RejectedTarget:
    if len(target) > _CACHEABLE:
        return _normalize_target(target)
    return _normalize_cached(target)


def _normalize_target(target: str) -> NormalizedTarget | RejectedTarget:
    if "#" in target:
        return RejectedTarget("request target contains a fragment ('#')")
    raw_path, _, raw_query = target.partition("?")
    if not raw_path.startswith("/"):
        return RejectedTarget("path must start with '/' (origin-form request target)")
    decoded = _decode_path(raw_path)
    if isinstance(decoded, RejectedTarget):
        return decoded
    path = decoded.replace("\\", "/")
    path = remove_dot_segments(path)
    path = _merge_slashes(path)
    return NormalizedTarget(path=path, query=_parse_query(raw_query))


_normalize_cached = lru_cache(maxsize=4096)(_normalize_target)


def _decode_path(raw: str) -> str | RejectedTarget:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "%":
            if ch == "\x00":
                return RejectedTarget("path contains a NUL byte")
            out.append(ch)
            i += 1
            continue
        pair = raw[i + 1 : i + 3]
        if len(pair) != 2 or not set(pair) <= _HEX:
            return RejectedTarget("malformed percent-escape in path")
        byte = int(pair, 16)
        if byte == 0:
            return RejectedTarget("path contains an encoded NUL (%00)")
        if chr(byte) in "/\\":
            return RejectedTarget("path contains an encoded slash or backslash (%2F, %5C)")
        if chr(byte) in _UNRESERVED:
            out.append(chr(byte))
        else:
            out.append("%" + pair.upper())
        i += 3
    return "".join(out)


def _merge_slashes(path: str) -> str:
    while "//" in path:
        path = path.replace("//", "/")
    return path


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on an absolute path; `..` at the root stays at the root."""
    segments = path.split("/")[1:]
    out: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
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


def _parse_query(raw: str) -> tuple[tuple[str, str], ...]:
    if not raw:
        return ()
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return tuple(pairs)


def normalize_host(host: str) -> str:
    """`Reviews.Default.svc.cluster.local.:9080` -> `reviews.default.svc.cluster.local`."""
    h = host.strip().lower()
    if h.startswith("["):
        return h.split("]")[0] + "]"
    h = h.rsplit(":", 1)[0] if h.count(":") == 1 else h
    return h.rstrip(".")


def host_port(host: str) -> int | None:
    h = host.strip()
    if h.count(":") == 1:
        tail = h.rsplit(":", 1)[1]
        if tail.isdigit():
            return int(tail)
    return None

"""Names: Consul service names of the spec's services, and the neutral names kept in `Meta`.

Consul CE has a single namespace (`default`); services are keyed by name alone
(developer.hashicorp.com/consul/docs/multi-tenant/namespace: namespaces are Enterprise).
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping

from adapters.consul.entries import NAMES_META

#: Consul meta values hold at most 512 characters (consul `agent/structs` `metaValueMaxLength`).
_CHUNK = 500
#: and an entry at most 64 of them ("Meta exceeds maximum element count 64", seen on Consul
#: 1.22.5); one is the source-location note, one is kept spare
_MAX_CHUNKS = 62
#: marks names written zlib-compressed and base64-encoded, when the plain text does not fit
_PACKED = "z:"


def split_name(service: str, route: str) -> str:
    """The virtual service whose splitter holds a route's weighted backends."""
    return f"{service}--{route}"


def names_meta(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
    """`native=neutral` pairs as Meta values of at most `_CHUNK` characters, compressed when
    the plain text needs more than `_MAX_CHUNKS` values; None when even that does not fit."""
    text = ";".join(f"{native}={neutral}" for native, neutral in pairs)
    if len(text) > _CHUNK * _MAX_CHUNKS:
        text = _PACKED + base64.b64encode(zlib.compress(text.encode(), 9)).decode()
        if len(text) > _CHUNK * _MAX_CHUNKS:
            return None
    chunks = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
    return {
        (NAMES_META if i == 0 else f"{NAMES_META}-{i}"): chunk for i, chunk in enumerate(chunks)
    }


def read_names(meta: object) -> dict[str, str]:
    """The pairs `names_meta` wrote (an entry without them: none)."""
    if not isinstance(meta, Mapping):
        return {}
    keys = sorted(
        (k for k in meta if str(k) == NAMES_META or str(k).startswith(NAMES_META + "-")),
        key=lambda k: int(str(k)[len(NAMES_META) + 1 :] or 0),
    )
    text = "".join(str(meta[k]) for k in keys)
    if text.startswith(_PACKED):
        try:
            text = zlib.decompress(base64.b64decode(text[len(_PACKED) :])).decode()
        except (ValueError, zlib.error):
            return {}  # not what names_meta wrote: names by position, as without them
    out: dict[str, str] = {}
    for pair in text.split(";") if text else ():
        native, _, neutral = pair.partition("=")
        out[native] = neutral
    return out

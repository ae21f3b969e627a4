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

from adapters.kit import envoy


class PathNormalization(StrEnum):
    NONE = "NONE"
    BASE = "BASE"
    MERGE_SLASHES = "MERGE_SLASHES"
    DECODE_AND_MERGE_SLASHES = "DECODE_AND_MERGE_SLASHES"


#: The Envoy listener settings each mode stands for (normalization page above).
ENVOY_OPTIONS = {
    PathNormalization.NONE: envoy.PathOptions(),
    PathNormalization.BASE: envoy.PathOptions(normalize_path=True),
    PathNormalization.MERGE_SLASHES: envoy.PathOptions(normalize_path=True, merge_slashes=True),
    PathNormalization.DECODE_AND_MERGE_SLASHES: envoy.PathOptions(
        unescape_slashes=True, normalize_path=True, merge_slashes=True
    ),
}


@dataclass(frozen=True)
class IstioTarget:
    """The path routes and policies see, and the parsed query."""

    path: str
    query: tuple[tuple[str, str], ...]

    def query_value(self, name: str) -> str | None:
        return envoy.first_query_value(self.query, name)


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
    path = envoy.apply_path_options(raw_path, ENVOY_OPTIONS[mode])
    return IstioTarget(path, envoy.parse_query(raw_query))

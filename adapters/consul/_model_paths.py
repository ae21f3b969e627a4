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

from adapters.kit.envoy import PathOptions, apply_path_options


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

    @property
    def options(self) -> PathOptions:
        return PathOptions(
            unescape_slashes=self.escaped_slashes.startswith("UNESCAPE"),
            normalize_path=self.normalize,
            merge_slashes=self.merge_slashes,
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
    lowered = sent.path.lower()
    if norm.escaped_slashes == "REJECT_REQUEST" and ("%2f" in lowered or "%5c" in lowered):
        return None
    if norm.normalize and "%00" in lowered:
        return None  # the canonicaliser fails on an escaped NUL
    return Target(apply_path_options(sent.path, norm.options), sent.query)

"""What every caller writes in its service-defaults `UpstreamConfig`: one `Defaults` for the
setting most upstreams share, `Overrides` only for the upstreams whose setting differs.

The spec keys limits and passive health checks by the service called, so every caller writes
the same `UpstreamConfig`; listing every upstream in every caller would make the output grow
with the square of the mesh. `UpstreamConfig.Defaults` applies to every upstream of the
caller, an override to the one upstream it names (service-defaults reference,
https://developer.hashicorp.com/consul/docs/reference/config-entry/service-defaults,
`UpstreamConfig.Defaults` and `UpstreamConfig.Overrides[]`). proxy-defaults cannot carry them:
of proxy-defaults only `MeshGateway` and `Protocol` reach upstreams (consul
`agent/configentry/resolve.go`, `ComputeResolvedServiceConfig`).

Consul merges an override over the defaults field by field (`resolve.go` merges
`upstreamDefaults` and then the override through `UpstreamConfig.MergeInto`, which copies
only the fields an entry sets): an override must set every field the defaults set, or the
upstream keeps the defaults' value. So an override of an upstream without limits, where the
defaults have some, writes `Limits: {}`: a set but empty `Limits` replaces the defaults' and
sets no threshold, which leaves Envoy's own (consul `agent/xds/clusters.go`,
`makeThresholdsIfNeeded` sets only the limits given).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def upstream_config(
    names: Iterable[str], overrides: Iterable[Mapping[str, Any]], unset: Mapping[str, Any]
) -> dict[str, Any]:
    """`UpstreamConfig` for upstreams `names`, each with the override given for it, else
    `unset` (the spec's default: no passive health check, no limits)."""
    given = {str(o["Name"]): {k: v for k, v in o.items() if k != "Name"} for o in overrides}
    bodies = {name: given.get(name, dict(unset)) for name in names}
    defaults = _most_shared(bodies.values(), dict(unset))
    out: list[dict[str, Any]] = []
    for name, body in bodies.items():
        if body == defaults:
            continue
        override = {"Name": name, **body}
        for field in defaults:
            # the defaults' value would stay: replace it with the empty (Envoy's own) value
            override.setdefault(field, {})
        out.append(override)
    upstream: dict[str, Any] = {"Defaults": defaults}
    if out:
        upstream["Overrides"] = out
    return upstream


def _most_shared(bodies: Iterable[dict[str, Any]], unset: dict[str, Any]) -> dict[str, Any]:
    """The body most upstreams have (on a tie `unset`, then the first seen)."""
    counts: dict[str, int] = {}
    first: dict[str, dict[str, Any]] = {}
    for body in bodies:
        key = json.dumps(body, sort_keys=True)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, body)
    best = max(counts.values(), default=0)
    if counts.get(json.dumps(unset, sort_keys=True), 0) == best:
        return unset
    return dict(next(first[k] for k, n in counts.items() if n == best))

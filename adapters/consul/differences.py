"""Where Consul answers a request differently from the spec, by the compile's own findings.

Each warning below announces a behaviour Consul cannot have; for a request it touches, the
fields named are the ones that may differ (None: the whole answer may). Differential checks
(the conformance fuzzer, this adapter's property tests) compare everything else, so a finding
never hides a difference it does not announce.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshspec.diagnostics import Diagnostic
from meshspec.semantics import Request, normalize_target
from meshspec.semantics.paths import NormalizedTarget
from meshspec.spec import Spec

#: an unmatched request reaches the service (MS4010): the answer for it is not the spec's
_FALL_THROUGH = "MS4010"


def known_differences(
    diagnostics: Iterable[Diagnostic], spec: Spec, request: Request
) -> frozenset[str] | None:
    codes = {d.code for d in diagnostics}
    if codes & {"MS4021", "MS4022"}:
        return None  # one mTLS mode per service; PERMISSIVE needs transparent proxy
    if "%zz" in request.target.lower():
        return None  # Envoy forwards a malformed escape (paths.reject_malformed_escape)
    norm = normalize_target(request.target)
    if request.source is None and not isinstance(norm, NormalizedTarget):
        # Consul refuses the plaintext connection before reading HTTP; the spec's answer is
        # the 400 of the path (a difference of the spec's order, reported upstream)
        return None
    raw = request.target.split("?")[0]
    if "MS4018" in codes and isinstance(norm, NormalizedTarget) and norm.path != raw:
        return None  # the caller's sidecar routes on the path as sent
    if _FALL_THROUGH in codes and request.source is not None and _may_fall_through(spec, request):
        return None
    fields: set[str] = set()
    if "MS4014" in codes:
        fields.add("backends")  # shares rounded to hundredths of a percent
    if codes & {"MS4041", "MS4043"}:
        fields.add("breakers")
    if "MS4013" in codes:
        fields.add("retries")  # no per-try timeout
    return frozenset(fields)


def _may_fall_through(spec: Spec, request: Request) -> bool:
    """The request goes to a service whose routes end without a catch-all (MS4010)."""
    name = request.destination.lower().split(":")[0].rstrip(".").split(".")[0].split("/")[-1]
    return any(
        svc.metadata.name == name
        and svc.spec.routes
        and not any(
            not r.matches
            or any(
                m.method is None
                and not m.headers
                and not m.query_params
                and (m.path is None or (m.path.prefix or "x").rstrip("/") == "")
                for m in r.matches
            )
            for r in svc.spec.routes
        )
        for svc in spec
    )

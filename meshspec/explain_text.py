"""Human-readable rendering of an oracle decision."""

from __future__ import annotations

from meshspec.durations import format_duration
from meshspec.semantics import Decision


def render_decision(d: Decision) -> str:
    lines = [
        f"request   {d.source or 'unauthenticated client'} -> {d.destination}"
        + (f" {d.path}" if d.path else ""),
        f"outcome   {d.outcome}" + (f" (HTTP {d.status})" if d.status else "") + f": {d.reason}",
        f"route     {d.route or '-'}" + (f" (match {d.match})" if d.match is not None else ""),
    ]
    total = sum(b.weight for b in d.backends) or 1
    for b in d.backends:
        authz = "-" if b.authz is None else f"{b.authz.decision} ({b.authz.rule or b.authz.reason})"
        lines.append(
            f"backend   {b.service}{'@' + b.version if b.version else ''} "
            f"weight {b.weight} ({100 * b.weight / total:.1f}%) "
            f"port {b.port} mtls {b.mtls}/{b.transport} authz {authz}"
        )
    if d.backends:
        lines.append(f"timeout   {format_duration(d.timeout) if d.timeout else 'none'}")
        r = d.retries
        lines.append(
            f"retries   {r.attempts}"
            + (f" on {','.join(r.retry_on)}" if r.attempts else "")
            + (f" codes {','.join(map(str, r.status_codes))}" if r.status_codes else "")
            + (f" per-try {format_duration(r.per_try_timeout)}" if r.per_try_timeout else "")
        )
    return "\n".join(lines)

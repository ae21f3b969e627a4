"""Human-readable rendering of an oracle decision: every line says something."""

from __future__ import annotations

from meshspec.durations import format_duration
from meshspec.semantics import BackendShare, Decision

_TRANSPORT = {
    "mtls": "the connection uses mTLS",
    "plaintext": "plaintext is accepted",
    "refused": "plaintext is refused",
}


def _outcome(d: Decision) -> str:
    if str(d.outcome) == "forwarded":
        text = "forwarded to the backends below; their application answers"
        return text if d.reason in ("", "forwarded") else f"{text} ({d.reason})"
    status = f" (HTTP {d.status})" if d.status else ""
    return f"{d.outcome}{status}: {d.reason}"


def _authz(b: BackendShare) -> str:
    if b.authz is None:
        return "authorization not evaluated"
    if b.authz.rule:
        return f"authorization: {b.authz.decision} by rule {b.authz.rule}"
    return f"authorization: {b.authz.decision} ({b.authz.reason})"


def render_decision(d: Decision) -> str:
    lines = [
        f"request   {d.source or 'unauthenticated client'} -> {d.destination}"
        + (f" {d.path}" if d.path else ""),
        f"outcome   {_outcome(d)}",
        f"route     {d.route or 'none'}" + (f" (match {d.match})" if d.match is not None else ""),
    ]
    total = sum(b.weight for b in d.backends) or 1
    for b in d.backends:
        lines.append(
            f"backend   {b.service}{'@' + b.version if b.version else ''} "
            f"weight {b.weight} ({100 * b.weight / total:.1f}% of requests), port {b.port}"
        )
        lines.append(
            f"          mTLS mode {b.mtls}: {_TRANSPORT.get(str(b.transport), b.transport)}; "
            f"{_authz(b)}"
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

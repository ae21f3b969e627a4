"""What a target saw for a probe, and how it is held against the expectation.

Targets observe different things: a model answers for policy (timeouts,
retries), a live mesh only shows statuses, answering versions and the
headers the echo app received. A target names what it observes; expected
fields it cannot observe are reported as unchecked, never as passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.case import Expect, Probe
from meshspec.adapter import Verdict
from meshspec.durations import format_duration, parse_duration
from meshspec.semantics import Decision, RetryPolicy, Transport
from meshspec.spec import MtlsMode

BackendKey = tuple[str, str | None]

#: expectation field -> the observation it is checked against
OBSERVED_BY: dict[str, str] = {
    "status": "status",
    "outcome": "outcome",
    "route": "route",
    "version": "backends",
    "backend": "backends",
    "weights": "backends",
    "authz": "authz",
    "authz_rule": "authzRule",
    "mtls": "mtls",
    "transport": "transport",
    "timeout": "timeout",
    "retries": "retries",
    "headers": "headers",
    "absent_headers": "headers",
    "outlier_detection": "outlierDetection",
    "connection_limits": "connectionLimits",
    "attempts": "attempts",
    "failed": "failed",
}

#: what a model (a Verdict) can show
VERDICT_FIELDS = frozenset(
    {
        "status",
        "outcome",
        "route",
        "backends",
        "authz",
        "authzRule",
        "mtls",
        "transport",
        "timeout",
        "retries",
        "attempts",
        "failed",
        "headers",
        "outlierDetection",
        "connectionLimits",
    }
)
#: what the oracle shows (all of it is in a Verdict)
DECISION_FIELDS = VERDICT_FIELDS

#: an echo backend answers 200; models report forwarded requests with no status
FORWARDED_STATUS = 200
EXACT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Observation:
    outcome: str | None = None
    status: int | None = None
    route: str | None = None
    backends: Mapping[BackendKey, float] = field(default_factory=dict)
    authz: str | None = None
    authz_rule: str | None = None
    mtls: MtlsMode | None = None
    transport: Transport | None = None
    timeout: float | None = None
    retries: RetryPolicy | None = None
    headers: Mapping[str, str] | None = None
    outlier_detection: dict[str, Any] | None = None
    connection_limits: dict[str, Any] | None = None
    #: tries the backend saw (under a fault); None when not known
    attempts: int | None = None
    #: requests of the probe that ended with a 5xx answer; None when not known
    failed: int | None = None
    #: requests behind `backends` (1 for a model: shares are exact)
    samples: int = 1
    #: shares were counted from live answers (versions seen, tolerance applies)
    sampled: bool = False

    @classmethod
    def of_verdict(cls, verdict: Verdict) -> Observation:
        status = verdict.status
        if status is None and verdict.outcome == "forwarded":
            status = FORWARDED_STATUS
        # the breaker of the first backend that gets traffic, as the oracle's Decision reports
        breaker = next(iter(verdict.breakers.values()), None)
        policy: dict[str, Any] = {} if breaker is None else breaker.to_json()
        return cls(
            outcome=verdict.outcome,
            status=status,
            route=verdict.route,
            backends=dict(verdict.backends),
            authz=verdict.authz,
            authz_rule=verdict.authz_rule,
            mtls=verdict.mtls,
            transport=verdict.transport,
            timeout=verdict.timeout,
            retries=verdict.retries,
            headers=None if verdict.headers is None else dict(verdict.headers),
            outlier_detection=policy.get("outlierDetection"),
            connection_limits=policy.get("connectionLimits"),
        )

    @classmethod
    def of_decision(cls, decision: Decision) -> Observation:
        return cls.of_verdict(Verdict.of(decision))

    def to_json(self, observes: frozenset[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        values: dict[str, Any] = {
            "outcome": self.outcome,
            "status": self.status,
            "route": self.route,
            "backends": {backend_label(k): round(v, 4) for k, v in sorted_shares(self.backends)},
            "authz": self.authz,
            "authzRule": self.authz_rule,
            "mtls": None if self.mtls is None else str(self.mtls),
            "transport": None if self.transport is None else str(self.transport),
            "timeout": "none" if self.timeout is None else format_duration(self.timeout),
            "retries": None if self.retries is None else self.retries.to_json(),
            "headers": None if self.headers is None else dict(sorted(self.headers.items())),
            "outlierDetection": self.outlier_detection,
            "connectionLimits": self.connection_limits,
            "attempts": self.attempts,
            "failed": self.failed,
        }
        for name, value in values.items():
            if name in observes:
                out[name] = value
        if self.samples > 1:
            out["samples"] = self.samples
        return out


def sorted_shares(shares: Mapping[BackendKey, float]) -> list[tuple[BackendKey, float]]:
    return sorted(shares.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))


def backend_label(key: BackendKey) -> str:
    return key[0] if key[1] is None else f"{key[0]}:{key[1]}"


def parse_backend(text: str, destination: str) -> BackendKey:
    """`v2` (a version of the addressed service), `ns/name` or `ns/name:v2`."""
    if "/" not in text:
        return (destination, text)
    service, _, version = text.partition(":")
    return (service, version or None)


def expected_shares(expect: Expect, destination: str) -> dict[BackendKey, float]:
    if expect.version is not None:
        return {(destination, expect.version): 1.0}
    if expect.backend is not None:
        return {parse_backend(expect.backend, destination): 1.0}
    raw = {parse_backend(k, destination): v for k, v in (expect.weights or {}).items()}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()} if total else {}


def _fold_versions(
    observed: Mapping[BackendKey, float], expected: Mapping[BackendKey, float]
) -> dict[BackendKey, float]:
    """A sampling target sees versions; `ns/name` alone expects all of them together."""
    whole = {svc for svc, version in expected if version is None}
    out: dict[BackendKey, float] = {}
    for (svc, version), share in observed.items():
        key = (svc, None) if svc in whole else (svc, version)
        out[key] = out.get(key, 0.0) + share
    return out


def _shares_match(
    expected: Mapping[BackendKey, float], observed: Mapping[BackendKey, float], tolerance: float
) -> bool:
    keys = set(expected) | {k for k, v in observed.items() if v > 0}
    return all(abs(expected.get(k, 0.0) - observed.get(k, 0.0)) <= tolerance for k in keys)


def _seconds(value: str | None) -> float | None:
    return None if value is None or value == "none" else parse_duration(value)


def _retries_match(expect: Expect, observed: RetryPolicy | None) -> bool:
    want = expect.retries
    if want is None or observed is None:
        return want is None and observed is None
    checks = []
    if want.attempts is not None:
        checks.append(want.attempts == observed.attempts)
    if "per_try_timeout" in want.model_fields_set:
        got = observed.per_try_timeout
        exp = _seconds(want.per_try_timeout)
        checks.append(got == exp if exp is None or got is None else abs(got - exp) < 1e-6)
    if want.retry_on is not None:
        checks.append(sorted(want.retry_on) == sorted(str(o) for o in observed.retry_on))
    if want.status_codes is not None:
        checks.append(sorted(want.status_codes) == sorted(observed.status_codes))
    return all(checks)


def _partial_match(expected: dict[str, Any] | None, observed: dict[str, Any] | None) -> bool:
    if expected is None or observed is None:
        return expected is None and observed is None
    return all(observed.get(k) == v for k, v in expected.items())


@dataclass(frozen=True)
class Check:
    field: str
    expected: Any
    ok: bool


def expected_json(expect: Expect) -> dict[str, Any]:
    return expect.model_dump(mode="json", by_alias=True, include=set(expect.written))


def check(
    probe: Probe, observation: Observation, observes: frozenset[str]
) -> tuple[list[Check], list[str]]:
    """The written expectations held against the observation, and those not observable."""
    expect = probe.expect
    destination = probe.destination_key
    sampled = observation.sampled
    results: list[Check] = []
    unchecked: list[str] = []
    dumped = expected_json(expect)
    done_backends = False
    for name in sorted(expect.written):
        observed_as = OBSERVED_BY[name]
        alias = _alias(name)
        if observed_as not in observes:
            unchecked.append(alias)
            continue
        ok: bool
        if observed_as == "backends":
            if done_backends:
                continue
            done_backends = True
            want = expected_shares(expect, destination)
            got = dict(observation.backends)
            if sampled:
                got = _fold_versions(got, want)
            tolerance = expect.tolerance if sampled else EXACT_TOLERANCE
            ok = _shares_match(want, got, tolerance)
        elif name == "status":
            ok = observation.status == expect.status
        elif name == "outcome":
            ok = observation.outcome == (None if expect.outcome is None else str(expect.outcome))
        elif name == "route":
            ok = observation.route == expect.route
        elif name == "authz":
            ok = observation.authz == expect.authz
        elif name == "authz_rule":
            ok = observation.authz_rule == expect.authz_rule
        elif name == "mtls":
            ok = observation.mtls == expect.mtls
        elif name == "transport":
            ok = observation.transport == expect.transport
        elif name == "timeout":
            exp = _seconds(expect.timeout)
            got_t = observation.timeout
            ok = got_t == exp if exp is None or got_t is None else abs(got_t - exp) < 1e-6
        elif name == "retries":
            ok = _retries_match(expect, observation.retries)
        elif name == "headers":
            seen = {k.lower(): v for k, v in (observation.headers or {}).items()}
            ok = observation.headers is not None and all(
                seen.get(k.lower()) == v for k, v in (expect.headers or {}).items()
            )
        elif name == "absent_headers":
            seen_names = {k.lower() for k in (observation.headers or {})}
            ok = observation.headers is not None and not any(
                h.lower() in seen_names for h in expect.absent_headers or ()
            )
        elif name == "attempts":
            if observation.attempts is None:
                unchecked.append(alias)
                continue
            ok = observation.attempts == expect.attempts
        elif name == "failed":
            if observation.failed is None:
                unchecked.append(alias)
                continue
            ok = observation.failed == expect.failed
        elif name == "outlier_detection":
            ok = _partial_match(expect.outlier_detection, observation.outlier_detection)
        else:
            ok = _partial_match(expect.connection_limits, observation.connection_limits)
        results.append(Check(alias, dumped.get(alias), ok))
    return results, unchecked


def _alias(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)

"""Recorded results: per probe, per case, per target. Reports are built only from these."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from conformance.features import Profile


class Result(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_SUPPORTED = "not-supported"
    ERROR = "error"


@dataclass(frozen=True)
class ProbeResult:
    name: str
    request: dict[str, Any]
    expected: dict[str, Any]
    observed: dict[str, Any]
    mismatches: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "request": self.request,
            "expected": self.expected,
            "observed": self.observed,
        }
        if self.mismatches:
            out["mismatches"] = list(self.mismatches)
        if self.unchecked:
            out["unchecked"] = list(self.unchecked)
        return out


@dataclass(frozen=True)
class CaseResult:
    name: str
    profile: Profile
    features: tuple[str, ...]
    result: Result
    reason: str = ""
    probes: tuple[ProbeResult, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "result": str(self.result),
            "features": list(self.features),
        }
        if self.reason:
            out["reason"] = self.reason
        out["probes"] = [p.to_json() for p in self.probes]
        return out

    def summary_line(self) -> str:
        """One line saying why, for failures and errors."""
        if self.result is not Result.FAILED:
            return self.reason
        lines = []
        for p in self.probes:
            for name in p.mismatches:
                lines.append(
                    f"{p.name}: {name} expected {p.expected.get(name)!r}, "
                    f"observed {_observed_for(name, p.observed)!r}"
                )
        return "; ".join(lines)


def _observed_for(name: str, observed: dict[str, Any]) -> Any:
    key = "backends" if name in ("version", "backend", "weights") else name
    key = "headers" if name == "absentHeaders" else key
    return observed.get(key)


@dataclass
class TargetReport:
    target: str
    description: str
    features: tuple[str, ...]
    #: why the whole target could not run (missing package, ...); empty when it ran
    unavailable: str = ""
    #: the column heading in the support matrix (a model says so: `istio (model)`)
    label: str = ""
    cases: list[CaseResult] = field(default_factory=list)

    def counts(self, profile: Profile | None = None) -> dict[Result, int]:
        out = dict.fromkeys(Result, 0)
        for c in self.cases:
            if profile is None or c.profile is profile:
                out[c.result] += 1
        return out

    @property
    def ok(self) -> bool:
        return not any(c.result in (Result.FAILED, Result.ERROR) for c in self.cases)

    def failing(self) -> list[CaseResult]:
        return [c for c in self.cases if c.result in (Result.FAILED, Result.ERROR)]

    def profiles(self) -> list[Profile]:
        return [p for p in Profile if any(c.profile is p for c in self.cases)]

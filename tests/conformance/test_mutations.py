"""Every expectation of every case can fail: change it, and the runner must report FAILED.

Run against the oracle target, which passes every unmutated case; a mutated
expectation the runner still passed would be a check that cannot fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.case import LoadedCase, Probe, RetriesExpect
from conformance.results import Result
from conformance.runner import run_case
from conformance.targets.oracle import OracleSession, OracleTarget
from meshspec.loader import load_texts
from meshspec.semantics import Outcome, Transport
from meshspec.spec import MtlsMode


def _other(values: list[Any], current: Any) -> Any:
    return next(v for v in values if v != current)


def _bumped(policy: dict[str, Any] | None) -> dict[str, Any]:
    if not policy:
        return {"maxConnections": 12345}
    key, value = next(iter(policy.items()))
    return {**policy, key: value + 1 if isinstance(value, int) else "999s"}


def mutations(probe: Probe) -> list[tuple[str, dict[str, Any]]]:
    """(field, update) pairs: each changes one written expectation to a wrong value."""
    e = probe.expect
    out: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(e.written):
        value = getattr(e, name)
        update: dict[str, Any]
        if name == "status":
            update = {"status": 503 if value != 503 else 200}
        elif name == "outcome":
            update = {"outcome": _other(list(Outcome), value)}
        elif name in ("route", "authz_rule"):
            update = {name: "mutated" if value is None else None}
        elif name == "version":
            update = {"version": "mutated"}
        elif name == "backend":
            update = {"backend": f"{value}:mutated"}
        elif name == "weights":
            first = next(iter(value))
            update = {"weights": {k: (1.0 if k == first else 0.0) for k in value} | {"zz": 1.0}}
        elif name == "authz":
            update = {"authz": "deny" if value == "allow" else "allow"}
        elif name == "mtls":
            update = {"mtls": _other(list(MtlsMode), value)}
        elif name == "transport":
            update = {"transport": _other(list(Transport), value)}
        elif name == "timeout":
            update = {"timeout": "1s" if value == "none" else "none"}
        elif name == "retries":
            attempts = value.attempts
            update = {
                "retries": RetriesExpect(attempts=(attempts or 0) + 1)
                if attempts is not None
                else value.model_copy(update={"status_codes": (599,)})
            }
        elif name == "headers":
            update = {"headers": {k: v + "-mutated" for k, v in value.items()}}
        elif name == "absent_headers":
            present = [h for h in probe.headers if h not in value]
            update = {"absent_headers": tuple(present[:1]) or ("x-env",)}
        elif name == "attempts":
            update = {"attempts": value + 1}
        elif name == "failed":
            update = {"failed": value + 1}
        elif name in ("outlier_detection", "connection_limits"):
            update = {name: _bumped(value)}
        else:
            raise AssertionError(f"no mutation for expectation field {name}")
        out.append((name, update))
    return out


def _mutated(case: LoadedCase, index: int, update: dict[str, Any]) -> LoadedCase:
    probe = case.case.probes[index]
    expect = probe.expect.model_copy(update=update)
    assert set(update) <= expect.written
    probes = list(case.case.probes)
    probes[index] = probe.model_copy(update={"expect": expect})
    return case.model_copy(update={"case": case.case.model_copy(update={"probes": tuple(probes)})})


def test_every_expectation_of_every_case_can_fail(cases: list[LoadedCase]) -> None:
    target = OracleTarget()
    sessions: dict[str, OracleSession] = {}
    survived: list[str] = []
    tried = 0
    for case in cases:
        if case.spec_text not in sessions:
            spec = load_texts([("case", case.spec_text)]).spec
            assert spec is not None
            sessions[case.spec_text] = OracleSession(spec)
        session = sessions[case.spec_text]
        assert run_case(case, target, session).result is Result.PASSED, case.name
        for index, probe in enumerate(case.case.probes):
            for name, update in mutations(probe):
                tried += 1
                result = run_case(_mutated(case, index, update), target, session)
                if result.result is not Result.FAILED:
                    survived.append(f"{case.name} probe {index + 1} {name}: {result.result}")
    assert not survived, "mutations the runner did not catch:\n" + "\n".join(survived)
    assert tried >= 150


@pytest.mark.parametrize("result_field", ["status", "version"])
def test_a_failure_reports_expected_and_observed(
    cases: list[LoadedCase], result_field: str
) -> None:
    case = next(c for c in cases if c.name == "precedence-a-longest-prefix")
    spec = load_texts([("case", case.spec_text)]).spec
    assert spec is not None
    update = {"status": 418} if result_field == "status" else {"version": "v9"}
    result = run_case(_mutated(case, 0, update), OracleTarget(), OracleSession(spec))
    assert result.result is Result.FAILED
    assert result.probes[0].mismatches == (result_field,)
    line = result.summary_line()
    assert ("418" in line and "200" in line) if result_field == "status" else "v9" in line

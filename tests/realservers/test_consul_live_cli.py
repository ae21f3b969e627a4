"""`meshspec conformance --target consul-live` as a user runs it: the installed
command, a case file of the user's own, real Consul and Envoy started and
stopped by the command itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.targets.consul_live_programs import ConsulPrograms

pytestmark = pytest.mark.realservers

CASES = """\
profile: routing
spec: |
  apiVersion: meshspec.io/v1alpha1
  kind: Service
  metadata: {name: client}
  ---
  apiVersion: meshspec.io/v1alpha1
  kind: Service
  metadata: {name: api}
  spec:
    versions: [{name: v1}, {name: v2}]
    routes:
      - name: canary
        matches: [{headers: [{name: x-canary, exact: "yes"}]}]
        backends: [{version: v2}]
      - name: rest
        backends: [{version: v1}]
    authorization:
      default: allow
      rules:
        - name: no-private
          action: DENY
          from: [{services: [client]}]
          to: {paths: [{prefix: /private}]}
  ---
  apiVersion: meshspec.io/v1alpha1
  kind: Service
  metadata: {name: vault}
  spec:
    authorization:
      default: deny
      rules:
        - name: client-only
          action: ALLOW
          from: [{services: [client]}]
cases:
  - name: header-route
    description: A header picks the canary version; everything else goes to v1.
    features: [routing.headers]
    probes:
      - {from: client, to: api, path: /a, headers: {x-canary: "yes"},
         expect: {status: 200, route: canary, version: v2}}
      - {from: client, to: api, path: /a, expect: {status: 200, route: rest, version: v1}}
  - name: deny-private
    description: The caller is refused on /private only.
    features: [authz.deny, authz.l7]
    probes:
      - {from: client, to: api, path: /private/x, expect: {status: 403, outcome: denied}}
      - {from: client, to: api, path: /public, expect: {status: 200}}
  - name: only-the-client-gets-in
    description: A caller with a valid certificate of another service is refused.
    features: [authz.allow, authz.default_deny]
    probes:
      - {from: client, to: vault, path: /a, expect: {status: 200}}
      - {from: intruder, to: vault, path: /a, expect: {status: 403, outcome: denied}}
  - name: wrong-on-purpose
    description: An expectation real Consul cannot meet fails the run.
    features: [routing.headers]
    probes:
      - {from: client, to: api, path: /a, headers: {x-canary: "yes"}, expect: {version: v1}}
"""


def _cases(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (target,) = report["targets"]
    return {c["name"]: c for p in target["profiles"] for c in p["cases"]}


def test_a_users_case_file_runs_against_real_consul(
    consul_programs: ConsulPrograms, tmp_path: Path
) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES)
    report_file = tmp_path / "report.json"
    script = Path(sys.executable).with_name("meshspec")
    argv = ["conformance", "--target", "consul-live", "--cases", str(cases), "-o", "json"]
    run = subprocess.run(
        [str(script), *argv, "--report-file", str(report_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=300,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr  # the one wrong case fails
    results = _cases(json.loads(report_file.read_text()))
    assert {n: c["result"] for n, c in results.items()} == {
        "header-route": "passed",
        "deny-private": "passed",
        "only-the-client-gets-in": "passed",
        "wrong-on-purpose": "failed",
    }
    # Routes have no name in Consul's Envoy config: observed as versions, listed unchecked.
    canary = results["header-route"]["probes"][0]
    assert canary["unchecked"] == ["route"]
    assert canary["observed"]["backends"] == {"default/api:v2": 1.0}
    denied = results["deny-private"]["probes"][0]["observed"]
    assert (denied["status"], denied["outcome"]) == (403, "denied")
    # "intruder" runs nowhere: the target acts as it with a leaf certificate of its name.
    intruder = results["only-the-client-gets-in"]["probes"][1]
    assert intruder["request"]["from"] == "intruder"
    assert (intruder["observed"]["status"], intruder["observed"]["outcome"]) == (403, "denied")
    assert "consul-live: 3 passed, 1 failed" in run.stdout

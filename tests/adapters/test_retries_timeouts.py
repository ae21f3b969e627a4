"""Timeouts and retries: neutral defaults (15s, no retries) are written out explicitly."""

from __future__ import annotations

import pytest

from tests.adapters.validator import assert_compiles


def _service(route_extra: str) -> str:
    return f"""
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {{name: pay}}
spec:
  routes:
    - name: r
{route_extra}
"""


def _istio(rule_extra: str) -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: pay, namespace: default}}
spec:
  hosts: [pay.default.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: r
      route: [{{destination: {{host: pay.default.svc.cluster.local}}}}]
{rule_extra}
"""


CASES = [
    pytest.param("", "      timeout: 15s\n      retries: {attempts: 0}", id="defaults-written-out"),
    pytest.param("      timeout: 0s", "      retries: {attempts: 0}", id="zero-timeout-disables"),
    pytest.param(
        "      timeout: 1500ms\n      retries: {attempts: 0}",
        "      timeout: 1500ms\n      retries: {attempts: 0}",
        id="explicit-no-retries",
    ),
    pytest.param(
        "      timeout: 6s\n      retries: {attempts: 2, perTryTimeout: 2s}",
        "      timeout: 6s\n      retries:\n        attempts: 2\n        perTryTimeout: 2s\n"
        "        retryOn: connect-failure,refused-stream,reset,gateway-error",
        id="default-retry-conditions",
    ),
    pytest.param(
        "      retries: {attempts: 3, retryOn: [5xx, reset], statusCodes: [409, 429]}",
        "      timeout: 15s\n      retries:\n        attempts: 3\n"
        "        retryOn: 5xx,reset,409,429",
        id="conditions-and-status-codes",
    ),
]


@pytest.mark.parametrize(("route_extra", "rule_extra"), CASES)
def test_retries_and_timeouts(route_extra: str, rule_extra: str) -> None:
    assert_compiles(
        _service(route_extra), write={"istio": _istio(rule_extra)}, diagnostics={"istio": []}
    )

"""Timeouts and retries: neutral defaults (15s, no retries) are written out explicitly."""

from __future__ import annotations

import pytest

from tests.adapters.validator import assert_compiles, compile_fragment


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


def _gamma(timeout: str) -> str:
    return f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: pay, namespace: default}}
spec:
  parentRefs: [{{group: "", kind: Service, name: pay}}]
  rules:
    - matches: [{{path: {{type: PathPrefix, value: /}}}}]
      backendRefs: [{{group: "", kind: Service, name: pay, port: 80, weight: 1}}]
      timeouts: {{request: {timeout}}}
"""


#: route fragment -> (timeouts.request, Linkerd's retry annotations, Linkerd's codes,
#: gateway-api's codes). Linkerd writes the limit always (it defaults to 1), cannot ask for
#: connect-failure or reset (MS2001) and never retries bodies over 64 KiB (MS2002); Gateway
#: API's retry is experimental (MS6002).
GAMMA_CASES = [
    pytest.param("", "15s", {}, [], [], id="defaults-written-out"),
    pytest.param("      timeout: 0s", "0s", {}, [], [], id="zero-timeout-disables"),
    pytest.param(
        "      timeout: 1500ms\n      retries: {attempts: 0}", "1500ms", {}, [], [], id="no-retries"
    ),
    pytest.param(
        "      timeout: 6s\n      retries: {attempts: 2, perTryTimeout: 2s}",
        "6s",
        {
            "retry.linkerd.io/http": "gateway-error",
            "retry.linkerd.io/limit": "2",
            "retry.linkerd.io/timeout": "2s",
        },
        ["MS2001", "MS2002"],
        ["MS6002"],
        id="default-retry-conditions",
    ),
    pytest.param(
        "      retries: {attempts: 3, retryOn: [5xx, reset], statusCodes: [409, 429]}",
        "15s",
        {"retry.linkerd.io/http": "5xx,409,429", "retry.linkerd.io/limit": "3"},
        ["MS2001", "MS2002"],
        ["MS6002"],
        id="conditions-and-status-codes",
    ),
]


@pytest.mark.parametrize(("route_extra", "timeout", "retry", "linkerd", "gamma"), GAMMA_CASES)
def test_retries_and_timeouts_on_gamma_targets(
    route_extra: str, timeout: str, retry: dict[str, str], linkerd: list[str], gamma: list[str]
) -> None:
    fragment = _service(route_extra)
    assert_compiles(
        fragment,
        write={"linkerd": _gamma(timeout), "gateway-api": _gamma(timeout)},
        diagnostics={"linkerd": ["MS2007", *linkerd], "gateway-api": ["MS6005", *gamma]},
    )
    (route,) = [
        r for r in compile_fragment(fragment, "linkerd").resources if r["kind"] == "HTTPRoute"
    ]
    notes = route["metadata"]["annotations"]
    assert {k: v for k, v in notes.items() if k.startswith("retry.linkerd.io/")} == retry

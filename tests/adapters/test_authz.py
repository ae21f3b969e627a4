"""Authorization: the neutral DENY-then-ALLOW-then-default order as Istio policies."""

from __future__ import annotations

import pytest

from tests.adapters.validator import Unsupported, assert_compiles


def _authz(body: str) -> str:
    return f"""
apiVersion: meshspec.io/v1alpha1
kind: Mesh
metadata: {{name: m}}
spec: {{trustDomain: example.org}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {{name: web, namespace: front}}
spec: {{serviceAccount: web-sa}}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {{name: ledger, namespace: bank}}
spec:
  authorization:
{body}
"""


def _policy(name: str, body: str, rules: str = "") -> str:
    note = f"\n  annotations: {{meshspec.io/rules: '{rules}'}}" if rules else ""
    return f"""
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: {name}, namespace: bank}}{note}
spec:
  selector: {{matchLabels: {{app: ledger}}}}
{body}
"""


DEFAULT_DENY = _authz("    default: deny")
ISTIO_DEFAULT_DENY = _policy("ledger-allow", "  action: ALLOW")

ALLOW_DEFAULT_ALLOW = _authz(
    """    rules:
      - name: web-reads
        action: ALLOW
        from: [{services: [front/web]}]"""
)
ISTIO_ALLOW_DEFAULT_ALLOW = _policy(
    "ledger-allow",
    """  action: ALLOW
  rules:
    - from: [{source: {principals: [example.org/ns/front/sa/web-sa]}}]
    - {}""",
)

SOURCES = _authz(
    """    default: deny
    rules:
      - name: block-plain
        action: DENY
        from: [{unauthenticated: true}]
      - name: peers
        action: ALLOW
        from:
          - {namespaces: [ops, audit]}
          - {identities: ["spiffe://other.org/ns/x/sa/y"]}
          - {authenticated: true}"""
)
ISTIO_SOURCES = _policy(
    "ledger-deny",
    """  action: DENY
  rules:
    - from: [{source: {notPrincipals: ["*"]}}]""",
) + _policy(
    "ledger-allow",
    """  action: ALLOW
  rules:
    - from:
        - source: {namespaces: [ops, audit]}
        - source: {principals: [other.org/ns/x/sa/y]}
        - source: {principals: ["*"]}""",
)

L7 = _authz(
    """    default: deny
    rules:
      - name: reads
        action: ALLOW
        to:
          methods: [GET, HEAD]
          paths: [{exact: /health}, {prefix: /v1/accounts}, {prefix: /}]
          headers:
            - {name: x-tenant, exact: acme}
            - {name: x-tier, prefix: gold}
            - {name: x-request-id, present: true}"""
)
ISTIO_L7 = _policy(
    "ledger-allow",
    """  action: ALLOW
  rules:
    - to:
        - operation:
            methods: [GET, HEAD]
            paths: [/health, /v1/accounts, /v1/accounts/*, /*]
      when:
        - {key: "request.headers[x-tenant]", values: [acme]}
        - {key: "request.headers[x-tier]", values: ["gold*"]}
        - {key: "request.headers[x-request-id]", values: ["*"]}""",
)

REGEX_ALLOW = _authz(
    """    default: deny
    rules:
      - name: balance
        action: ALLOW
        to:
          paths: [{regex: "/v1/[0-9]+"}]"""
)
REGEX_DENY = _authz(
    """    rules:
      - name: no-admin
        action: DENY
        to:
          methods: [POST]
          paths: [{exact: /admin}, {regex: "/admin/.*"}]
          headers: [{name: x-role, regex: "guest|anon"}]"""
)
ISTIO_REGEX_DENY_LOSSY = _policy(
    "ledger-deny",
    """  action: DENY
  rules:
    - to: [{operation: {methods: [POST], ports: ["80"]}}]""",
)
WILDCARD = _authz(
    """    rules:
      - name: star
        action: DENY
        to:
          headers: [{name: x-user, exact: "*"}]"""
)


@pytest.mark.parametrize(
    ("fragment", "istio"),
    [
        pytest.param(DEFAULT_DENY, ISTIO_DEFAULT_DENY, id="default-deny-is-empty-allow"),
        pytest.param(ALLOW_DEFAULT_ALLOW, ISTIO_ALLOW_DEFAULT_ALLOW, id="allow-keeps-default"),
        pytest.param(SOURCES, ISTIO_SOURCES, id="sources-as-literal-principals"),
        pytest.param(L7, ISTIO_L7, id="methods-paths-headers"),
    ],
)
def test_authz(fragment: str, istio: str) -> None:
    assert_compiles(fragment, write={"istio": istio})


def test_rule_names_are_kept_in_an_annotation() -> None:
    from tests.adapters.validator import compile_fragment

    result = compile_fragment(SOURCES, "istio")
    notes = {
        r["metadata"]["name"]: r["metadata"]["annotations"]["meshspec.io/rules"]
        for r in result.resources
        if r["kind"] == "AuthorizationPolicy"
    }
    assert notes == {"ledger-deny": "block-plain", "ledger-allow": "peers"}


@pytest.mark.parametrize(
    ("fragment", "codes"),
    [
        pytest.param(REGEX_ALLOW, ["MS1001", "MS1010"], id="regex-path"),
        pytest.param(REGEX_DENY, ["MS1001", "MS1010", "MS1011"], id="regex-header"),
        pytest.param(WILDCARD, ["MS1012", "MS1013"], id="literal-star"),
    ],
)
def test_inexpressible_authz_is_an_error(fragment: str, codes: list[str]) -> None:
    assert_compiles(fragment, write={"istio": Unsupported}, diagnostics={"istio": codes})


def test_accepted_losses_fail_closed() -> None:
    # ALLOW: the only path was a regex, so the rule is left out (allows less).
    assert_compiles(REGEX_ALLOW, write={"istio": ISTIO_DEFAULT_DENY}, allow_lossy=["authz"])
    # DENY: the regex path and header conditions are dropped (denies more).
    assert_compiles(REGEX_DENY, write={"istio": ISTIO_REGEX_DENY_LOSSY}, allow_lossy=["authz"])

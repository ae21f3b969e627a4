"""Authorization: the neutral DENY-then-ALLOW-then-default order as Istio policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.adapters.validator import Unsupported, assert_compiles, compile_fragment


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


def _linkerd(body: str) -> str:
    """The ledger's Server (default-deny) and what the body adds; web keeps STRICT."""
    return (
        """
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: ledger-80, namespace: bank}
spec:
  podSelector: {matchLabels: {app: ledger}}
  port: 80
  proxyProtocol: unknown
  accessPolicy: deny
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web-80, namespace: front}
spec:
  podSelector: {matchLabels: {app: web}}
  port: 80
  proxyProtocol: unknown
  accessPolicy: all-authenticated
"""
        + body
    )


def _linkerd_allow(name: str, identities: str, target: str = "Server, name: ledger-80") -> str:
    return f"""
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {{name: {name}, namespace: bank}}
spec: {{identities: {identities}}}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {{name: {name}, namespace: bank}}
spec:
  targetRef: {{group: policy.linkerd.io, kind: {target}}}
  requiredAuthenticationRefs:
    - {{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: {name}}}
"""


# Linkerd is allow-only: the ledger's port is a default-deny Server and every client the
# spec admits is an authentication an AuthorizationPolicy requires; STRICT drops plaintext
# clients. Narrower authentications come first (web's own rule before the default's `*`).
LINKERD_DEFAULT_DENY = _linkerd("")
LINKERD_ALLOW_DEFAULT_ALLOW = _linkerd(
    _linkerd_allow("ledger-80-0", "[web-sa.front.serviceaccount.identity.linkerd.example.org]")
    + _linkerd_allow("ledger-80-1", "['*']")
)
LINKERD_SOURCES = _linkerd(_linkerd_allow("ledger-80-0", "['*']"))


@pytest.mark.parametrize(
    ("fragment", "linkerd"),
    [
        pytest.param(DEFAULT_DENY, LINKERD_DEFAULT_DENY, id="default-deny-is-a-bare-server"),
        pytest.param(ALLOW_DEFAULT_ALLOW, LINKERD_ALLOW_DEFAULT_ALLOW, id="allow-then-default"),
        pytest.param(SOURCES, LINKERD_SOURCES, id="deny-plaintext-allow-authenticated"),
    ],
)
def test_authz_side_by_side(fragment: str, linkerd: str) -> None:
    """The same fragments in Linkerd; Gateway API has no authorization at all."""
    assert_compiles(
        fragment,
        write={"linkerd": linkerd, "gateway-api": Unsupported},
        diagnostics={"linkerd": ["MS2007"], "gateway-api": ["MS6005", "MS6006"]},
    )


def test_linkerd_rule_names_are_kept_on_the_policies() -> None:
    result = compile_fragment(ALLOW_DEFAULT_ALLOW, "linkerd")
    rules = {
        r["metadata"]["name"]: r["metadata"]["annotations"]["meshspec.io/rule"]
        for r in result.resources
        if r["kind"] == "AuthorizationPolicy"
    }
    assert rules == {"ledger-80-0": "web-reads", "ledger-80-1": ""}


def test_linkerd_request_conditions_are_inbound_routes() -> None:
    """`to` is an inbound HTTPRoute on the Server (methods x paths, headers in each match),
    and a catch-all route no policy admits keeps other requests at 403 rather than 404."""
    result = compile_fragment(L7, "linkerd")
    inbound = {
        r["metadata"]["name"]: r["spec"]
        for r in result.resources
        if r["kind"] == "HTTPRoute" and r["apiVersion"] == "policy.linkerd.io/v1beta3"
    }
    assert sorted(inbound) == ["ledger-80-authz-00", "ledger-80-authz-01"]
    matches = inbound["ledger-80-authz-00"]["rules"][0]["matches"]
    assert [(m["method"], m["path"]["value"]) for m in matches] == [
        (method, path) for method in ("GET", "HEAD") for path in ("/health", "/v1/accounts", "/")
    ]
    assert all(len(m["headers"]) == 3 for m in matches)
    assert inbound["ledger-80-authz-01"]["rules"] == [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}
    ]
    policies = [r for r in result.resources if r["kind"] == "AuthorizationPolicy"]
    assert [p["spec"]["targetRef"]["name"] for p in policies] == ["ledger-80-authz-00"]


def test_linkerd_cannot_admit_plaintext_clients_only() -> None:
    """PERMISSIVE with a rule for unauthenticated clients but not for some meshed client:
    Linkerd's NetworkAuthentication admits everyone, so plaintext clients are left out and
    the loss is an error naming such a request."""
    fragment = ALLOW_DEFAULT_ALLOW.replace(
        "    rules:",
        "    default: deny\n    rules:\n"
        "      - {name: plain, action: ALLOW, from: [{unauthenticated: true}]}",
    ).replace("  authorization:", "  mtls: {mode: PERMISSIVE}\n  authorization:")
    result = compile_fragment(fragment, "linkerd")
    errors = [d for d in result.diagnostics if d.code == "MS2008"]
    assert errors and "plaintext" in errors[0].message
    assert not [r for r in result.resources if r["kind"] == "NetworkAuthentication"]


def _iam(fragment: str, allow_lossy: list[str]) -> tuple[list[str], dict[str, Any] | None]:
    """vpc-lattice: the codes, and the IAM policy document on the ledger's route."""
    result = compile_fragment(fragment, "vpc-lattice", allow_lossy)
    codes = sorted(d.code for d in result.diagnostics)
    policies = [r for r in result.resources if r["kind"] == "IAMAuthPolicy"]
    assert [p["spec"]["targetRef"]["name"] for p in policies] in ([], ["ledger"])
    return codes, json.loads(policies[0]["spec"]["policy"]) if policies else None


def _statement(sid: str, effect: str, condition: dict[str, object] | None = None) -> object:
    out: dict[str, object] = {
        "Sid": sid,
        "Effect": effect,
        "Principal": "*",
        "Action": "vpc-lattice-svcs:Invoke",
        "Resource": "*",
    }
    if condition:
        out["Condition"] = condition
    return out


NS = "aws:PrincipalTag/kubernetes-namespace"
SA = "aws:PrincipalTag/kubernetes-service-account"


@pytest.mark.parametrize(
    ("fragment", "codes", "statements"),
    [
        pytest.param(
            DEFAULT_DENY,
            ["MS5001", "MS5001", "MS5005", "MS5104"],
            [_statement("DenyAll", "Deny")],
            id="default-deny-is-one-deny",
        ),
        pytest.param(
            ALLOW_DEFAULT_ALLOW,
            ["MS5001", "MS5001", "MS5005", "MS5104"],
            [
                _statement("Rule0From0P0", "Allow", {"StringEquals": {NS: "front", SA: "web-sa"}}),
                _statement("Default", "Allow"),
            ],
            id="pod-identity-tags-then-default",
        ),
        pytest.param(
            SOURCES,
            ["MS5001", "MS5001", "MS5003", "MS5005", "MS5104"],
            [
                _statement(
                    "Rule0From0P0",
                    "Deny",
                    {"StringEqualsIgnoreCase": {"aws:PrincipalType": "anonymous"}},
                ),
                _statement("Rule1From0P0", "Allow", {"StringEquals": {NS: ["audit", "ops"]}}),
                _statement("Rule1From2P0", "Allow", {"Null": {SA: "false"}}),
            ],
            id="anonymous-denied-other-trust-domain-left-out",
        ),
        pytest.param(
            L7,
            None,
            None,
            id="l7-allow-is-left-out",
        ),
    ],
)
def test_authz_on_vpc_lattice(
    fragment: str, codes: list[str] | None, statements: list[object] | None
) -> None:
    """The same fragments as IAM auth policies: principals by EKS Pod Identity session tags;
    what IAM principals cannot say is an authz error, and accepted it fails closed."""
    strict, _ = _iam(fragment, ["mtls"])
    if codes is not None:
        assert strict == codes
    else:
        assert "MS5002" in strict
    _, document = _iam(fragment, ["all"])
    assert document is not None and document["Version"] == "2012-10-17"
    if statements is not None:
        assert document["Statement"] == statements
    else:  # an L7 ALLOW is left out: nothing it allowed is allowed
        assert all(s["Effect"] == "Deny" for s in document["Statement"])

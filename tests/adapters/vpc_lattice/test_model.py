"""The vpc-lattice model over hand-written controller objects: what VPC Lattice does that
the spec would not (first match by rule order, string prefixes, case-insensitive header
values, invalid backends skipped), each against the source it reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from adapters.vpc_lattice import adapter
from meshspec.adapter import CompileOptions, Topology, Verdict
from meshspec.loader import load_texts
from meshspec.semantics import Outcome, Request

SPEC = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  versions: [{name: v1}, {name: v2}]
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: client, namespace: shop}
spec: {serviceAccount: client-sa}
---
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: other, namespace: ops}
"""

ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{kind: Gateway, name: mesh, namespace: default, sectionName: http-80}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /a}}]
      backendRefs: [{kind: Service, name: web-v1, port: 80}]
    - matches: [{path: {type: Exact, value: /a/b}}]
      backendRefs: [{kind: Service, name: web-v2, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /h}, headers: [{name: X-T, value: Gold}]}]
      backendRefs:
        - {kind: Service, name: web-v2, port: 80, weight: 3}
        - {kind: Service, name: missing, port: 80, weight: 1}
    - matches: [{path: {type: Exact, value: /gone}}]
      backendRefs: [{kind: Service, name: missing, port: 80}]
"""


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "application-networking.k8s.aws/v1alpha1",
        "kind": "IAMAuthPolicy",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "targetRef": {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "web"},
            "policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        },
    }


def _allow(sid: str, effect: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"Sid": sid, "Effect": effect, "Principal": "*", "Action": "*"}
    if condition:
        s["Condition"] = condition
    return s


def _decide(request: Request, *extra: dict[str, Any]) -> Verdict:
    loaded = load_texts([("spec.yaml", SPEC)])
    assert loaded.spec is not None
    resources = [yaml.safe_load(ROUTE), *extra]
    return adapter.model(resources, Topology.of(loaded.spec)).decide(request)


V1 = {("shop/web", "v1"): 1.0}
V2 = {("shop/web", "v2"): 1.0}


@pytest.mark.parametrize(
    ("target", "headers", "outcome", "status", "backends"),
    [
        # rule order, not specificity: the prefix /a (priority 1) takes /a/b before its Exact
        ("/a/b", {}, Outcome.FORWARDED, None, V1),
        # a plain string prefix: /a matches /abc
        ("/abc", {}, Outcome.FORWARDED, None, V1),
        # paths compare case-sensitively (controller: CaseSensitive true)
        ("/A", {}, Outcome.NO_ROUTE, 404, {}),
        # header values compare case-insensitively (controller: CaseSensitive false);
        # the backend that does not resolve is skipped, the rest take everything
        ("/h", {"x-t": "GOLD"}, Outcome.FORWARDED, None, V2),
        ("/h", {"x-t": "silver"}, Outcome.NO_ROUTE, 404, {}),
        # no valid backend: the controller's fixed 500
        ("/gone", {}, Outcome.UNAVAILABLE, 500, {}),
        # the listener's default action: a fixed 404
        ("/x", {}, Outcome.NO_ROUTE, 404, {}),
    ],
)
def test_lattice_routing(
    target: str, headers: dict[str, str], outcome: Outcome, status: int | None, backends: Any
) -> None:
    got = _decide(Request("web.shop", target, headers=headers, source="shop/client"))
    assert (got.outcome, got.status, dict(got.backends)) == (outcome, status, backends)


@pytest.mark.parametrize(
    ("statements", "source", "authz", "rule"),
    [
        # an explicit Deny wins over an Allow written before it
        (
            [
                _allow("A", "Allow"),
                _allow(
                    "D", "Deny", {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "shop"}}
                ),
            ],
            "shop/client",
            "deny",
            "shop/web#D",
        ),
        (
            [
                _allow("A", "Allow"),
                _allow(
                    "D", "Deny", {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "shop"}}
                ),
            ],
            "ops/other",
            "allow",
            "shop/web#A",
        ),
        # no statement applies: the implicit deny
        (
            [
                _allow(
                    "S",
                    "Allow",
                    {"StringEquals": {"aws:PrincipalTag/kubernetes-service-account": "client-sa"}},
                )
            ],
            "ops/other",
            "deny",
            "shop/web#implicit-deny",
        ),
        (
            [
                _allow(
                    "S",
                    "Allow",
                    {"StringEquals": {"aws:PrincipalTag/kubernetes-service-account": "client-sa"}},
                )
            ],
            "shop/client",
            "allow",
            "shop/web#S",
        ),
        # a signed caller is never anonymous; an unknown operator never holds
        (
            [_allow("N", "Allow", {"StringEqualsIgnoreCase": {"aws:PrincipalType": "anonymous"}})],
            "shop/client",
            "deny",
            "shop/web#implicit-deny",
        ),
        (
            [_allow("U", "Allow", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})],
            "shop/client",
            "deny",
            "shop/web#implicit-deny",
        ),
    ],
)
def test_iam_auth(statements: list[dict[str, Any]], source: str, authz: str, rule: str) -> None:
    got = _decide(Request("web.shop", "/a", source=source), _policy(*statements))
    assert (got.authz, got.authz_rule) == (authz, rule)
    assert got.status == (403 if authz == "deny" else None)


def test_a_client_outside_the_mesh_reaches_the_pods_unchecked() -> None:
    """IAM auth checks service-network traffic only (docs `iam-auth-policy.md`)."""
    got = _decide(Request("web.shop", "/x"), _policy(_allow("D", "Deny")))
    assert (got.outcome, got.route, dict(got.backends)) == (
        Outcome.FORWARDED,
        None,
        {("shop/web", None): 1.0},
    )


def test_routes_whose_lattice_names_would_collide_get_names_of_their_own() -> None:
    """The controller names a VPC Lattice service `<route[:20]>-<namespace[:18]>`: the
    two ports' routes of a long service name would be one service."""
    fragment = """
apiVersion: meshspec.io/v1alpha1
kind: Service
metadata: {name: payments-processor-a, namespace: shop}
spec:
  ports: [{port: 8080}, {port: 9090}]
"""
    loaded = load_texts([("spec.yaml", fragment)])
    assert loaded.spec is not None
    result = adapter.compile(loaded.spec, CompileOptions(allow_lossy=frozenset({"all"})))
    routes = [r for r in result.resources if r["kind"] == "HTTPRoute"]
    names = [
        r["metadata"]["annotations"].get(
            "application-networking.k8s.aws/service-name-override",
            f"{r['metadata']['name'][:20].strip('-')}-{r['metadata']['namespace'][:18]}",
        )
        for r in routes
    ]
    assert len(set(names)) == 2 and all(3 <= len(n) <= 40 for n in names), names
    assert [d.code for d in result.diagnostics].count("MS5112") == 1
